;;; codesearch.el --- OCaml-aware code search and context windows from codesearch  -*- lexical-binding: t; -*-

;; A thin layer over the HTTP API of `codesearch serve' (see the README):
;;   M-x codesearch          a query -> a results buffer in compilation-mode style; RET jumps to path:line
;;   M-x codesearch-context  a prompt, the current file and line, and the errors of *compilation*
;;                           -> a markdown buffer holding the context window for an LLM
;; Requires Emacs 27 or later (native JSON).

;;; Code:

(require 'url)
(require 'compile)
(require 'subr-x)

(defgroup codesearch nil
  "OCaml-aware code search and context windows."
  :group 'tools
  :prefix "codesearch-")

(defcustom codesearch-url "http://127.0.0.1:8717"
  "Base URL of a running `codesearch serve'."
  :type 'string)

(defcustom codesearch-token nil
  "Bearer token for a server started with --token (nil: none)."
  :type '(choice (const :tag "None" nil) string))

(defcustom codesearch-root nil
  "The indexed root, which result paths are relative to.
nil: the nearest directory above `default-directory' holding .codesearch/."
  :type '(choice (const :tag "Find .codesearch upwards" nil) directory))

(defcustom codesearch-results 20
  "How many results `codesearch' asks for."
  :type 'integer)

(defcustom codesearch-budget 8000
  "Token budget of the windows `codesearch-context' asks for."
  :type 'integer)

(defun codesearch--root ()
  "The indexed root as a directory name."
  (file-name-as-directory
   (expand-file-name
    (or codesearch-root
        (locate-dominating-file default-directory ".codesearch")
        default-directory))))

(defun codesearch--request (method path &optional body)
  "Send METHOD PATH to the server with BODY (an alist, sent as JSON); return the parsed answer.
A refused request or an unreachable server is a `user-error' saying why."
  (let* ((url-request-method method)
         (url-request-extra-headers
          (append '(("Content-Type" . "application/json"))
                  (when codesearch-token `(("Authorization" . ,(concat "Bearer " codesearch-token))))))
         (url-request-data (when body (encode-coding-string (json-encode body) 'utf-8)))
         (url (concat (string-remove-suffix "/" codesearch-url) path))
         (buffer (condition-case err
                     (url-retrieve-synchronously url t t 60)
                   (error (user-error "codesearch: %s is not reachable (%s)" codesearch-url (car (split-string (error-message-string err) ",")))))))
    (unless buffer (user-error "codesearch: no answer from %s" codesearch-url))
    (with-current-buffer buffer
      (unwind-protect
          (let ((status (or url-http-response-status 0)))
            (goto-char (point-min))
            (re-search-forward "\r?\n\r?\n" nil 'move)
            (let* ((text (decode-coding-string (buffer-substring-no-properties (point) (point-max)) 'utf-8))
                   (answer (ignore-errors (json-parse-string text :object-type 'alist :array-type 'list :null-object nil))))
              (if (and (>= status 200) (< status 300))
                  answer
                (user-error "codesearch: %s" (or (alist-get 'message (alist-get 'error answer)) (format "HTTP %s" status))))))
        (kill-buffer buffer)))))

(defvar codesearch-results-mode-map
  (let ((map (make-sparse-keymap)))
    (set-keymap-parent map compilation-mode-map)
    map)
  "Keymap of `codesearch-results-mode'.")

(define-compilation-mode codesearch-results-mode "codesearch"
  "Results of `codesearch': RET or a click jumps to the definition.")

;;;###autoload
(defun codesearch (query)
  "Search the codesearch index for QUERY: a symbol, a type or a question."
  (interactive (list (read-string "codesearch: " (thing-at-point 'symbol t))))
  (let* ((root (codesearch--root))
         (answer (codesearch--request "POST" "/v1/search" `((query . ,query) (k . ,codesearch-results))))
         (results (alist-get 'results answer))
         (buffer (get-buffer-create "*codesearch*")))
    (with-current-buffer buffer
      (let ((inhibit-read-only t))
        (erase-buffer)
        (setq default-directory root)
        (insert (format "codesearch: %s\n\n" query))
        (if (null results)
            (insert "No results.\n")
          (dolist (r results)
            (insert (format "%s:%d: %s (%s)\n" (alist-get 'path r) (alist-get 'startLine r) (alist-get 'symbol r) (alist-get 'kind r)))
            (let ((snippet (alist-get 'snippet r)))
              (when (and snippet (not (string-empty-p snippet)))
                (insert (replace-regexp-in-string "^" "    " snippet) "\n"))))))
      (codesearch-results-mode)
      (goto-char (point-min)))
    (display-buffer buffer)
    buffer))

(defun codesearch--compilation-errors ()
  "The text of *compilation* when it holds an OCaml or dune error, else nil."
  (when-let ((buffer (get-buffer "*compilation*")))
    (with-current-buffer buffer
      (let ((text (buffer-substring-no-properties (point-min) (point-max))))
        (when (string-match-p "^File \"[^\"]+\", line [0-9]+" text)
          (substring text 0 (min (length text) 200000)))))))

;;;###autoload
(defun codesearch-context (prompt)
  "Show the context window for PROMPT, anchored at point, with the errors of *compilation*."
  (interactive "sContext for: ")
  (let* ((root (codesearch--root))
         (file (when (and buffer-file-name (file-in-directory-p buffer-file-name root))
                 (file-relative-name buffer-file-name root)))
         (errors (codesearch--compilation-errors))
         (body `((prompt . ,prompt) (budget . ,codesearch-budget)
                 ,@(when file `((file . ,file) (line . ,(line-number-at-pos))))
                 ,@(when errors `((errors . ,errors)))))
         (answer (codesearch--request "POST" "/v1/context" body))
         (buffer (get-buffer-create "*codesearch-context*")))
    (with-current-buffer buffer
      (let ((inhibit-read-only t))
        (erase-buffer)
        (setq default-directory root)
        (insert (alist-get 'text answer))
        (if (fboundp 'markdown-mode) (markdown-mode) (text-mode))
        (setq header-line-format
              (format "codesearch: %d items, %d of %d tokens" (length (alist-get 'items answer)) (alist-get 'tokens answer) (alist-get 'budget answer)))
        (goto-char (point-min))))
    (display-buffer buffer)
    buffer))

(provide 'codesearch)
;;; codesearch.el ends here

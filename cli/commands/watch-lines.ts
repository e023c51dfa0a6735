// The lines `codesearch watch --announce-runs` adds around each run, and `serve --watch` reads
// from its watcher child: a module of their own, so the server does not load the file watcher.
export const RUN_STARTED = 'codesearch: update started';
export const RUN_ENDED = 'codesearch: update ended';

// The context-provider plugin API, exported as `codesearch/provider`: one interface for every
// source of context windows, so an editor sidecar loads one in a line and serves every editor
// with it. codesearch's own provider opens an index in process or talks to a running
// `codesearch serve`; a team's own providers ("our RPC schemas") register a factory and are
// listed by module path in `codesearch serve --provider MODULE`, which serves them to everyone.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Searcher } from './search.js';
import { ContextBuilder, type ContextRequest } from './context/build.js';
import type { ContextWindow } from './context/item.js';
import type { EncodingName } from './context/tokens.js';

export type { ContextWindow, ContextItem } from './context/item.js';

export interface ProviderRequest extends ContextRequest {
  /** Code the user has selected: searched together with the prompt. */
  selection?: string;
  /** Which editor, user or agent asks. */
  clientId?: string;
}

export interface ProviderDescription {
  name: string;
  description: string;
}

export interface ContextProvider {
  readonly name: string;
  describe(): ProviderDescription;
  provide(request: ProviderRequest): Promise<ContextWindow>;
  close(): Promise<void>;
}

/** What a third-party provider is made from: codesearch's own provider over the same index, to build on. */
export interface ProviderFactoryOptions {
  codesearch: ContextProvider;
}

export type ProviderFactory = (options: ProviderFactoryOptions) => ContextProvider | Promise<ContextProvider>;

/** A provider that could not be made or that failed a request, in one line. */
export class ProviderError extends Error {}

const factories = new Map<string, ProviderFactory>();

/** Makes `name` available to `createRegisteredProvider` (a provider module calls this when loaded). */
export function registerContextProvider(name: string, factory: ProviderFactory): void {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) throw new ProviderError(`provider name '${name}' must be lower-case letters, digits, '-' or '_'`);
  if (name === CODESEARCH) throw new ProviderError(`'${CODESEARCH}' is the built-in provider's name`);
  factories.set(name, factory);
}

export function registeredProviders(): string[] {
  return [...factories.keys()].sort();
}

export async function createRegisteredProvider(name: string, options: ProviderFactoryOptions): Promise<ContextProvider> {
  const factory = factories.get(name);
  if (!factory) throw new ProviderError(`no context provider '${name}' is registered (registered: ${registeredProviders().join(', ') || 'none'})`);
  return factory(options);
}

/**
 * Imports provider modules (paths relative to `from`, or package names): each registers its
 * providers with `registerContextProvider`. Returns the names it registered.
 */
export async function loadProviderModules(specifiers: readonly string[], from = process.cwd()): Promise<string[]> {
  const before = new Set(factories.keys());
  for (const specifier of specifiers) {
    const url = /^[./]/.test(specifier) ? pathToFileURL(resolve(from, specifier)).href : specifier;
    try {
      await import(url);
    } catch (err) {
      throw new ProviderError(`cannot load provider module ${specifier}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const added = [...factories.keys()].filter((n) => !before.has(n));
  if (specifiers.length > 0 && added.length === 0) throw new ProviderError(`${specifiers.join(', ')} registered no provider (call registerContextProvider from 'codesearch/provider')`);
  return added;
}

export const CODESEARCH = 'codesearch';
const DESCRIPTION = 'OCaml definitions, declarations, types, callers and tests from the codesearch index';

/** codesearch's own provider over an open searcher (what `codesearch serve` uses). */
export function indexProvider(searcher: Searcher, builder: ContextBuilder, options: { closeSearcher?: boolean } = {}): ContextProvider {
  return {
    name: CODESEARCH,
    describe: () => ({ name: CODESEARCH, description: DESCRIPTION }),
    provide: (request) => builder.build(withSelection(request)),
    close: async () => {
      if (options.closeSearcher) searcher.close();
    },
  };
}

/** The build request a provider request stands for: a selection is searched with the prompt. */
export function withSelection(request: ProviderRequest): ContextRequest {
  const { selection, clientId: _client, ...rest } = request;
  return selection?.trim() ? { ...rest, prompt: `${rest.prompt}\n${selection}` } : rest;
}

export type ProviderOptions = { db: string; encoding?: EncodingName } | { url: string; token?: string };

/**
 * codesearch's own provider: `{ db }` opens the index in this process (its chunks stay in
 * memory); `{ url }` asks a running `codesearch serve`. Both answer the same windows.
 */
export async function createContextProvider(options: ProviderOptions): Promise<ContextProvider> {
  if ('db' in options) {
    const searcher = await Searcher.open(options.db, { resident: true });
    return indexProvider(searcher, await ContextBuilder.create(searcher, options.encoding), { closeSearcher: true });
  }
  const base = options.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) };
  return {
    name: CODESEARCH,
    describe: () => ({ name: CODESEARCH, description: `${DESCRIPTION} (${base})` }),
    async provide(request) {
      let response: Response;
      try {
        response = await fetch(`${base}/v1/context`, { method: 'POST', headers, body: JSON.stringify(request) });
      } catch (err) {
        throw new ProviderError(`codesearch serve at ${base} is not reachable: ${(err as Error).message}`);
      }
      const body = (await response.json().catch(() => undefined)) as (ContextWindow & { error?: { message: string } }) | undefined;
      if (!response.ok || !body) throw new ProviderError(`codesearch serve at ${base} answered ${response.status}: ${body?.error?.message ?? response.statusText}`);
      return { items: body.items, tokens: body.tokens, budget: body.budget, text: body.text };
    },
    close: async () => {},
  };
}

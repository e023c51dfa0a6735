// Context-building strategies: named plugins that vary how a window is built, chosen per request
// (`strategy`), by the server's default, or split between two by a stable hash of the client id
// (A/B), so a sidecar can compare them on real use (server/stats.ts counts what happened).
import { createHash } from 'node:crypto';
import type { BuildOptions } from './context/build.js';

export interface ContextStrategy {
  name: string;
  description: string;
  options: BuildOptions;
}

const strategies = new Map<string, ContextStrategy>();

export function registerStrategy(strategy: ContextStrategy): void {
  strategies.set(strategy.name, strategy);
}

export function strategyNames(): string[] {
  return [...strategies.keys()];
}

export function getStrategy(name: string): ContextStrategy | undefined {
  return strategies.get(name);
}

export const DEFAULT_STRATEGY = 'hybrid-graph';

registerStrategy({ name: DEFAULT_STRATEGY, description: 'hybrid search for the seeds, then the symbol graph: declarations, types, calls, callers, tests', options: {} });
registerStrategy({ name: 'lexical-only', description: 'as hybrid-graph, with seeds found without vectors', options: { mode: 'lexical' } });
registerStrategy({ name: 'no-expansion', description: 'the hybrid search hits alone, packed to the budget', options: { expand: false } });

/** Which strategy serves everyone by default, and the two an A/B split shares clients between. */
export interface StrategyConfig {
  default: string;
  ab?: readonly [string, string];
}

/** A strategy name the configuration or a request gave that is not registered. */
export class UnknownStrategyError extends Error {}

export function checkStrategy(name: string): string {
  if (!strategies.has(name)) throw new UnknownStrategyError(`unknown strategy '${name}' (known: ${strategyNames().join(', ')})`);
  return name;
}

/**
 * The strategy of one request: the one it names, else its client's side of the A/B split (the
 * same client always lands on the same side), else the default.
 */
export function chooseStrategy(config: StrategyConfig, request: { strategy?: string; clientId?: string }): ContextStrategy {
  if (request.strategy) return strategies.get(checkStrategy(request.strategy))!;
  if (config.ab && request.clientId) {
    const side = createHash('sha1').update(request.clientId).digest()[0]! % 2;
    return strategies.get(config.ab[side]!)!;
  }
  return strategies.get(config.default)!;
}

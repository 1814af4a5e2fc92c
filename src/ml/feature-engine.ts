/**
 * Old name of backbone-runner.ts, kept while feature-pool.ts and feature-worker.ts (owned by the
 * native-tf work) import it; delete once they import backbone-runner.js.
 */
export { BackboneRunner as FeatureEngine } from './backbone-runner.js';
export type { BatchResult, EngineConfig, EngineInfo, FlipMode, OutputGroup } from './backbone-runner.js';

/** Public entry for user stage modules: `import { defineStage } from 'tailor'`. */
export { defineStage, STAGE_API_VERSION } from './stage-api.js';
export type { StageContext, StageDefinition, JsonSchema } from './stage-api.js';
export { StageError } from './run/stage-error.js';

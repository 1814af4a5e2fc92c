/**
 * The run side's door to stage definitions (the stage child, the lock file's determinism column).
 * The loader itself lives in src/stage-loader/, below both pipeline/ and run/.
 */
export { declaredDeterminism, loadStageRun } from '../stage-loader/definitions.js';
export { loadStageDefinition as loadStageModule } from '../stage-loader/definitions.js';
export { checkParams, type ParamCheck } from '../stage-loader/params.js';

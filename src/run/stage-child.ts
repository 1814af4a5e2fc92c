/**
 * Entry point of a module stage's child process (forked by module-process.ts per stage, so that
 * a crash, an out-of-memory kill or a hung backend takes down only the child).
 *
 * It leads its own process group (the engine stops the group), and exits when the IPC channel
 * closes, so it never runs on unsupervised after the engine is gone.
 */
import type { ChildMessage, ModuleJob, ParentMessage } from './child-protocol.js';
import { checkParams, loadStageModule } from './stage-module.js';
import { runStageDefinition } from './stage-context.js';
import { StageError } from './stage-error.js';

const controller = new AbortController();

function send(msg: ChildMessage): Promise<void> {
  return new Promise((done) => {
    if (!process.connected) return done();
    process.send!(msg, undefined, {}, () => done());
  });
}

/** Progress is throttled: a stage may report per item, the terminal needs a few updates a second. */
function progressSink(): (done: number, total: number, label?: string) => void {
  let last = 0;
  return (done, total, label) => {
    const now = Date.now();
    if (done < total && now - last < 200) return;
    last = now;
    void send({ type: 'progress', done, total, label });
  };
}

async function runModule(job: ModuleJob): Promise<void> {
  const def = await loadStageModule(job.module);
  const check = checkParams(def.params, job.invocation.params);
  if (!check.ok) {
    const detail = check.errors.map((e) => `${e.instancePath || '(params)'} ${e.message ?? ''}`).join('; ');
    throw new StageError(`invalid params: ${detail}`);
  }
  await runStageDefinition(
    def,
    { ...job.invocation, params: check.value },
    { log: (m) => process.stdout.write(m.endsWith('\n') ? m : m + '\n'), progress: progressSink() },
    controller.signal,
  );
}

/**
 * A stage's stack as its author wants it: the frames of their code with real file names (tsx
 * runs a module as a `data:` URL carrying the path), without tailor's own frames below them.
 */
function readableStack(err: Error): string {
  const lines = (err.stack ?? err.message).split('\n');
  return lines
    .filter((l, i) => i === 0 || !/[/\\]src[/\\]run[/\\]stage-(context|child)\.[jt]s|node:internal/.test(l))
    .map((l) =>
      l.replace(/data:text\/javascript,[^?\s]*\?filePath=([^:\s)]+)/, (_, path: string) =>
        decodeURIComponent(path).replace(/\?namespace=.*$/, ''),
      ),
    )
    .join('\n');
}

async function start(job: ModuleJob): Promise<void> {
  try {
    await runModule(job);
    await send({ type: 'done' });
    process.exit(0);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // A StageError is the stage's own words; anything else is a bug whose stack helps its author.
    const logged = controller.signal.aborted
      ? 'aborted'
      : StageError.is(err) || !(err instanceof Error)
        ? message
        : readableStack(err);
    process.stderr.write(`${logged}\n`);
    await send({ type: 'error', message: controller.signal.aborted ? 'interrupted' : message });
    process.exit(1);
  }
}

process.on('message', (msg: ParentMessage) => {
  if (msg.type === 'start') void start(msg.job);
  else if (msg.type === 'abort') controller.abort();
});
process.on('disconnect', () => {
  controller.abort();
  process.exit(1);
});

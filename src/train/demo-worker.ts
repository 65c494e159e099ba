/**
 * A worker process of the demo (demo.ts forks it): trains the runs it is sent, one at a time,
 * reporting each epoch and the final metrics back; it exits when the demo disconnects.
 */
import { runDemoTask, type DemoTask, type WorkerMessage } from './demo.js';

const reply = (m: WorkerMessage) => process.send!(m);

process.on('message', (task: DemoTask) => {
  runDemoTask(task, (epoch) => reply({ type: 'epoch', epoch })).then(
    (metrics) => {
      const cpu = process.cpuUsage();
      reply({ type: 'done', metrics, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
    },
    (err: unknown) => reply({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
  );
});

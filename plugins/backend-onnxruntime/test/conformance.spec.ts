/**
 * The `onnxruntime` training backend through the conformance kit, created through the plugin's own
 * ContainerModule: on one thread and on two (results must not depend on the thread count's
 * scheduling: the same feeds give the same outputs).
 */
import { creator, describeTrainingBackend, loadContributions, ofKind } from '@peftkit/testing';
import plugin from '../src/plugin.js';

const contributions = await loadContributions(plugin);

for (const c of ofKind(contributions, 'training-backend')) {
  for (const intraOpThreads of [1, 2]) {
    describeTrainingBackend(
      `${c.name} (${intraOpThreads} thread${intraOpThreads > 1 ? 's' : ''})`,
      creator(contributions, c, { intraOpThreads }),
    );
  }
}

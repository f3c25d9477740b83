/**
 * The HubSpot fake (`@livechat-pipeline/hubspot-fake`) in a process of its own, for the scale-out run: in the
 * run's own process its answers would wait behind the sender's event loop, and crm-sync would time out on a
 * starved fake rather than on its own work. `argv[2]`: the fake's options as JSON. Prints its URL as the first
 * line of stdout; the run reads and steers it over HTTP (`/__fake/*`); SIGTERM closes it.
 */
import { startFakeHubSpot, type FakeHubSpotOptions } from '@livechat-pipeline/hubspot-fake';

const fake = await startFakeHubSpot(JSON.parse(process.argv[2] ?? '{}') as FakeHubSpotOptions);
process.stdout.write(`${fake.url}\n`);
process.once('SIGTERM', () => {
  void fake.close().then(() => process.exit(0));
});

// Benchmarks send real WebRTC traffic: they run only inside the loopback-only namespace that
// `cargo xtask bench <name>` creates, never on the host network.

import os from 'node:os';

/** Throws unless loopback is the only network interface; `name` is the bench to suggest. */
export function assertLoopbackOnly(name) {
  const others = Object.entries(os.networkInterfaces())
    .filter(([, addrs]) => addrs.some((a) => !a.internal))
    .map(([iface]) => iface);
  if (others.length) {
    throw new Error(
      `network interfaces other than loopback (${others.join(', ')}): run inside the test ` +
        `namespace (\`cargo xtask bench ${name}\`), never on the host network`,
    );
  }
}

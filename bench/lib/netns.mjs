// Benchmarks send real WebRTC traffic: they run only inside the namespace that
// `cargo xtask bench <name>` creates (loopback plus a veth pair with both ends inside, on
// TEST-NET-2, which no router forwards), never on the host network.

import os from 'node:os';

/** TEST-NET-2 (RFC 5737): the namespace's veth address range. */
const inTestNet = (a) => a.family === 'IPv4' && a.address.startsWith('198.51.100.');

/**
 * Throws unless every interface is loopback or the namespace's own veth (only TEST-NET-2
 * addresses, IPv6 link-local at most); `name` is the bench to suggest.
 */
export function assertLoopbackOnly(name) {
  const others = Object.entries(os.networkInterfaces())
    .filter(([, addrs]) => addrs.some((a) => !a.internal && !inTestNet(a) && !a.address.startsWith('fe80:')))
    .map(([iface]) => iface);
  if (others.length) {
    throw new Error(
      `network interfaces other than loopback (${others.join(', ')}): run inside the test ` +
        `namespace (\`cargo xtask bench ${name}\`), never on the host network`,
    );
  }
}

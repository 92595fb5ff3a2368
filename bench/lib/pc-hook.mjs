// Recorded in every app page before its scripts run: the peer connections it creates, in
// `window.__pcs` (for getStats and bench-set encoder caps; the subclass changes nothing else).
export const PC_HOOK = `(() => {
  const Base = window.RTCPeerConnection;
  if (!Base || window.__pcs) return;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Base {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
})();`;

// What a page's peer connections actually send and receive with, read from the browser (not
// from what the page meant to set): the media bench reads it from the app's host and viewer and
// from the floor page, configures the floor from the app's, and records both sides.

/** Keys compared between the app and the floor: a difference makes the comparison void. */
export const COMPARED = [
  'codec', 'maxBitrate', 'maxFramerate', 'scaleResolutionDownBy', 'degradationPreference',
  'contentHint', 'source', 'jitterBufferTarget', 'playoutDelayHint',
];

/**
 * In the page: `{ send, receive }` of the open connections in `window.__pcs`: the video sender's
 * codec (from its outbound-rtp stats), encoding caps, degradation preference, the track's
 * content hint and source size/rate; the video receiver's jitter buffer target and playout
 * delay hint. `null` for a side the page does not have.
 */
export async function readSettings(page) {
  return page.evaluate(async () => {
    const out = { send: null, receive: null };
    for (const pc of window.__pcs ?? []) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      for (const t of pc.getTransceivers()) {
        const dir = t.currentDirection;
        const track = t.sender.track;
        if (track?.kind === 'video' && (dir === 'sendonly' || dir === 'sendrecv')) {
          let codec = null;
          stats.forEach((s) => {
            if (s.type === 'outbound-rtp' && s.kind === 'video' && s.framesEncoded) {
              codec = stats.get(s.codecId)?.mimeType ?? codec;
            }
          });
          const p = t.sender.getParameters();
          const e = p.encodings?.[0] ?? {};
          const ts = track.getSettings();
          out.send = {
            codec,
            maxBitrate: e.maxBitrate ?? null,
            maxFramerate: e.maxFramerate ?? null,
            scaleResolutionDownBy: e.scaleResolutionDownBy ?? 1,
            degradationPreference: p.degradationPreference ?? null,
            contentHint: track.contentHint,
            source: `${ts.width}x${ts.height}@${ts.frameRate}`,
          };
        }
        if (t.receiver.track?.kind === 'video' && (dir === 'recvonly' || dir === 'sendrecv')) {
          out.receive = {
            jitterBufferTarget: t.receiver.jitterBufferTarget ?? null,
            playoutDelayHint: t.receiver.playoutDelayHint ?? null,
          };
        }
      }
    }
    return out;
  });
}

/** `{ send, receive }` flattened to one object of the compared keys. */
export function flat({ send, receive }) {
  return { ...(send ?? {}), ...(receive ?? {}) };
}

/** The compared keys whose values differ (`[]`: like for like). */
export function differences(app, floor) {
  return COMPARED.filter((k) => JSON.stringify(app[k] ?? null) !== JSON.stringify(floor[k] ?? null))
    .map((k) => `${k}: app ${JSON.stringify(app[k] ?? null)}, floor ${JSON.stringify(floor[k] ?? null)}`);
}

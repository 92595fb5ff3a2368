// A transform worker that hands every frame on untouched: what an encoded transform costs a
// page before any work. Used by the media floor (bench/floor.html) and the input floor
// (bench/input-floor.html). It takes frames either way they come: an `rtctransform` event
// (RTCRtpScriptTransform) or a `{ readable, writable }` pair posted by the page
// (createEncodedStreams).

const SRC = `
  const pipe = (readable, writable) => readable.pipeTo(writable).catch(() => {});
  self.onrtctransform = (ev) => pipe(ev.transformer.readable, ev.transformer.writable);
  self.onmessage = (ev) => { if (ev.data && ev.data.readable) pipe(ev.data.readable, ev.data.writable); };
`;

/** A new pass-through worker. */
export function passthroughWorker() {
  return new Worker(URL.createObjectURL(new Blob([SRC], { type: 'text/javascript' })));
}

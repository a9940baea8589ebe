/** Debian's chromium (installed by .ci/run); never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless flags for WebRTC tests: loopback ICE candidates in headless Chromium need the last two. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
];

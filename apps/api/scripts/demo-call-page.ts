/**
 * The page of `pnpm demo:call`: a small WebRTC client of the signaling socket
 * (`/api/v1/calls/signal`, docs/api.md "Calls"). One tab per user; the script fills in who this tab
 * is, its access token and the peer. Media: the microphone when the browser grants it, and always a
 * data channel for text, so the call works on a machine without audio devices too.
 */
export interface DemoCallSide {
  name: string;
  token: string;
  peerId: string;
  peerName: string;
  apiUrl: string;
}

/** JSON inside a <script> element: `<`, `>` and `&` escaped so no value can close the element. */
const scriptJson = (v: unknown) =>
  JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function demoCallPage(side: DemoCallSide): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SnapTalker call demo</title>
<style>
body{font:15px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
button{font:inherit;padding:.4rem .9rem;margin-right:.5rem;border-radius:6px;border:1px solid #8891a5;background:#f4f6fa;cursor:pointer}
button:disabled{opacity:.45;cursor:default}
#state{font-weight:600}#log{border:1px solid #d6dae3;border-radius:6px;padding:.5rem;min-height:8rem;white-space:pre-wrap}
input{font:inherit;padding:.35rem;width:60%}
</style></head><body>
<h1>SnapTalker call demo</h1>
<p>This tab is <b id="me"></b>. The other tab is <b id="peer"></b>.</p>
<p>Call state: <span id="state">connecting to signaling…</span></p>
<p><button id="call" disabled>Call</button><button id="answer" disabled>Answer</button><button id="reject" disabled>Reject</button><button id="hangup" disabled>Hang up</button></p>
<p><input id="text" placeholder="a message over the call's data channel" disabled><button id="send" disabled>Send</button></p>
<div id="log"></div>
<audio id="remote" autoplay></audio>
<script>
const SIDE = ${scriptJson(side)};
const $ = (id) => document.getElementById(id);
$('me').textContent = SIDE.name; $('peer').textContent = SIDE.peerName;
const log = (line) => { $('log').textContent += line + '\\n'; };
const setState = (s) => { $('state').textContent = s; window.demoState = s; };
let ws, pc, dc, callId = null, pendingOffer = null, remoteSet = false;
const remoteQueue = [];
const send = (f) => ws.send(JSON.stringify(f));
const buttons = (on) => { for (const b of ['call', 'answer', 'reject', 'hangup']) $(b).disabled = !on.includes(b); };

function connect() {
  ws = new WebSocket(SIDE.apiUrl.replace(/^http/, 'ws') + '/api/v1/calls/signal?token=' + encodeURIComponent(SIDE.token));
  ws.onopen = () => { setState('idle'); buttons(['call']); };
  ws.onclose = (e) => { setState('signaling closed (' + e.code + ')'); buttons([]); };
  ws.onmessage = async (ev) => {
    const f = JSON.parse(ev.data);
    try {
      if (f.type === 'offer') {
        callId = f.callId; pendingOffer = f;
        setState('incoming call from ' + SIDE.peerName); buttons(['answer', 'reject']);
      } else if (f.type === 'ringing' && f.callId === callId) setState('ringing…');
      else if (f.type === 'answer' && f.callId === callId) {
        setState('answered, connecting media…');
        await pc.setRemoteDescription({ type: 'answer', sdp: f.sdp }); await flush();
      } else if (f.type === 'ice' && f.callId === callId) {
        remoteQueue.push(JSON.parse(f.candidate)); if (remoteSet) await flush();
      } else if (f.type === 'hangup' && f.callId === callId) end('ended: ' + (f.reason || 'hangup'));
      else if (['unavailable', 'busy', 'reject', 'answered-elsewhere'].includes(f.type) && f.callId === callId) {
        end(f.type === 'unavailable' ? SIDE.peerName + ' is not online: open the other tab' : 'ended: ' + f.type);
      } else if (f.type === 'error') log('server: ' + f.code + ' ' + (f.message || ''));
    } catch (e) { log('error: ' + e); }
  };
}

async function flush() { remoteSet = true; while (remoteQueue.length) await pc.addIceCandidate(remoteQueue.shift()); }

async function makePc() {
  pc = new RTCPeerConnection({ iceServers: [] });
  pc.onicecandidate = (e) => { if (e.candidate && callId) send({ type: 'ice', callId, candidate: JSON.stringify(e.candidate.toJSON()) }); };
  pc.oniceconnectionstatechange = () => {
    if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') setState('connected');
  };
  pc.ontrack = (e) => { $('remote').srcObject = e.streams[0]; };
  pc.ondatachannel = (e) => wire(e.channel);
  try {
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    for (const t of mic.getTracks()) pc.addTrack(t, mic);
    log('microphone on');
  } catch { log('no microphone: text only'); }
}

function wire(channel) {
  dc = channel;
  dc.onopen = () => { $('text').disabled = false; $('send').disabled = false; log('data channel open'); };
  dc.onmessage = (e) => { log(SIDE.peerName + ': ' + e.data); window.demoReceived = (window.demoReceived || []).concat(e.data); };
}

function end(why) {
  setState(why); buttons(['call']); $('text').disabled = true; $('send').disabled = true;
  if (pc) pc.close(); pc = null; dc = null; callId = null; pendingOffer = null; remoteSet = false; remoteQueue.length = 0;
}

$('call').onclick = async () => {
  callId = crypto.randomUUID(); buttons(['hangup']); setState('calling…');
  await makePc(); wire(pc.createDataChannel('chat'));
  await pc.setLocalDescription(await pc.createOffer());
  send({ type: 'offer', callId, to: SIDE.peerId, sdp: pc.localDescription.sdp, media: 'audio' });
};
$('answer').onclick = async () => {
  buttons(['hangup']); send({ type: 'ringing', callId }); await makePc();
  await pc.setRemoteDescription({ type: 'offer', sdp: pendingOffer.sdp }); await flush();
  await pc.setLocalDescription(await pc.createAnswer());
  send({ type: 'answer', callId, sdp: pc.localDescription.sdp });
};
$('reject').onclick = () => { send({ type: 'reject', callId }); end('rejected'); };
$('hangup').onclick = () => { send({ type: 'hangup', callId }); end('ended: hangup'); };
$('send').onclick = () => { const t = $('text').value; if (!t || !dc) return; dc.send(t); log(SIDE.name + ': ' + t); $('text').value = ''; };
connect();
</script></body></html>`;
}

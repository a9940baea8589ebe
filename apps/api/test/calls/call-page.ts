/**
 * The page both browsers load: a minimal WebRTC client speaking the signaling protocol of
 * `/api/v1/calls/signal`. It is served on the API's own origin (the test fulfils the request), so it
 * can fetch `/api/v1/calls/turn` like a real web client would.
 */
export const CALL_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>SnapTalker call test</title></head><body>
<script>
const st = { frames: [], received: [], iceErrors: [], candidates: [], dcState: 'none', errors: [] };
window.st = st;
let ws, pc, dc, callId, peerId, pendingOffer = null;
const remoteQueue = [];
let remoteSet = false;

function sendFrame(f) { ws.send(JSON.stringify(f)); }

window.connect = (token) => new Promise((resolve, reject) => {
  ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/api/v1/calls/signal?token=' + encodeURIComponent(token));
  ws.onerror = () => reject(new Error('socket error'));
  ws.onmessage = async (ev) => {
    const f = JSON.parse(ev.data);
    st.frames.push(f);
    try {
      if (f.type === 'pong') resolve();
      else if (f.type === 'offer') { callId = f.callId; peerId = f.from.userId; pendingOffer = f; }
      else if (f.type === 'answer' && f.callId === callId) {
        await pc.setRemoteDescription({ type: 'answer', sdp: f.sdp });
        await flushRemote();
      } else if (f.type === 'ice' && f.callId === callId) {
        remoteQueue.push(JSON.parse(f.candidate));
        if (remoteSet) await flushRemote();
      }
    } catch (e) { st.errors.push(String(e)); }
  };
  ws.onopen = () => sendFrame({ type: 'ping' });
});

async function flushRemote() {
  remoteSet = true;
  while (remoteQueue.length) await pc.addIceCandidate(remoteQueue.shift());
}

function makePc(iceServers, policy) {
  pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: policy });
  pc.onicecandidate = (e) => {
    if (!e.candidate) return;
    st.candidates.push(e.candidate.candidate);
    if (callId) sendFrame({ type: 'ice', callId, candidate: JSON.stringify(e.candidate.toJSON()) });
  };
  pc.onicecandidateerror = (e) => st.iceErrors.push({ code: e.errorCode, text: e.errorText, url: e.url });
  pc.ondatachannel = (e) => wire(e.channel);
}

function wire(channel) {
  dc = channel;
  st.dcState = dc.readyState;
  dc.onopen = () => { st.dcState = 'open'; };
  dc.onclose = () => { st.dcState = 'closed'; };
  dc.onmessage = (e) => st.received.push(e.data);
}

/** Fetches TURN credentials from the API (same origin) in the RTCIceServer form. */
window.turnServers = async (token) => {
  const r = await fetch('/api/v1/calls/turn', { headers: { authorization: 'Bearer ' + token } });
  if (r.status !== 200) throw new Error('turn: ' + r.status);
  const t = await r.json();
  return [{ urls: t.urls, username: t.username, credential: t.credential }];
};

window.call = async (to, id, iceServers, policy) => {
  callId = id;
  makePc(iceServers, policy);
  wire(pc.createDataChannel('chat'));
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  sendFrame({ type: 'offer', callId, to, sdp: offer.sdp, media: 'audio' });
};

window.hasOffer = () => pendingOffer !== null;

window.answer = async (iceServers, policy) => {
  makePc(iceServers, policy);
  sendFrame({ type: 'ringing', callId });
  await pc.setRemoteDescription({ type: 'offer', sdp: pendingOffer.sdp });
  await flushRemote();
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  sendFrame({ type: 'answer', callId, sdp: answer.sdp });
};

window.sendText = (t) => dc.send(t);
window.iceState = () => (pc ? pc.iceConnectionState : 'none');
window.hangup = () => sendFrame({ type: 'hangup', callId });

/** The selected candidate pair's local and remote candidate types (host, srflx, relay). */
window.pairTypes = async () => {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
  if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) pair = s; });
  if (!pair) return null;
  return { local: stats.get(pair.localCandidateId).candidateType, remote: stats.get(pair.remoteCandidateId).candidateType };
};

/** Gathers candidates alone (no peer): for checking what a TURN server grants. */
window.gatherOnly = async (iceServers) => {
  makePc(iceServers, 'relay');
  pc.createDataChannel('probe');
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => {
    if (pc.iceGatheringState === 'complete') return r();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
    setTimeout(r, 20000);
  });
  return { candidates: st.candidates, errors: st.iceErrors };
};
</script></body></html>`;

// tallyq's web page: plain JavaScript, no framework, no build step.
//
// Security rules this file keeps:
//   - The access token is sent once, in the body of POST /api/session, and
//     forgotten; the session lives in an HttpOnly cookie the script cannot read.
//   - The CSRF token lives in memory only (never in web storage or a URL) and
//     goes in the X-CSRF-Token header of every POST and DELETE.
//   - Text from the server is put in the page with textContent, never as HTML.

const POLL_MS = 2000; // the polling fallback's interval, as the seed's frontend had
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
const OPERATION_NAMES = { TALLY: 'Tally', DECRYPTION: 'Decryption', COMBINE: 'Combine' };
const SVG_NS = 'http://www.w3.org/2000/svg';

const state = {
  csrfToken: null,
  electionId: null, // the election on screen, or null for the list
  election: null, // its last GET /api/elections/{id}
  jobs: new Map(), // jobId → latest JobStatus seen
  watchers: new Map(), // jobId → {mode, source, timer}
  refreshSeq: 0,
  refreshTimer: null,
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- API calls

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// api sends a request and returns its JSON body; failures throw an ApiError
// carrying the API's own message. A CSRF refusal means another tab signed
// in again, replacing the session and its CSRF token: the page reads the
// current token (only this origin can) and sends the request once more.
async function api(method, path, opts = {}) {
  try {
    return await send(method, path, opts);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'csrf_failed' && state.csrfToken)) throw err;
    const session = await send('GET', '/api/session');
    state.csrfToken = session.csrfToken;
    return send(method, path, opts);
  }
}

async function send(method, path, { json, body, contentType } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET' && method !== 'HEAD' && state.csrfToken) {
    headers['X-CSRF-Token'] = state.csrfToken;
  }
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    headers['Content-Type'] = contentType;
    init.body = body;
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'network', `The server cannot be reached (${err.message}).`);
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const e = data && data.error;
    throw new ApiError(resp.status, (e && e.code) || `http_${resp.status}`,
      (e && e.message) || `${method} ${path} answered HTTP ${resp.status}.`);
  }
  return data;
}

// ---------------------------------------------------------------- messages

function showError(err) {
  const box = $('error');
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
  $('notice').hidden = true;
}

function showNotice(text) {
  const box = $('notice');
  box.textContent = text;
  box.hidden = false;
  $('error').hidden = true;
}

function clearMessages() {
  $('error').hidden = true;
  $('notice').hidden = true;
}

// fail reports an error; a 401 means the session is over, so the page asks
// to sign in again.
function fail(err) {
  if (err instanceof ApiError && err.status === 401 && state.csrfToken) {
    signedOut();
    showError('Your session has ended; sign in again.');
    return;
  }
  showError(err);
}

// action runs a user action with its button disabled and reports its error.
async function action(button, fn) {
  clearMessages();
  if (button) button.disabled = true;
  try {
    await fn();
  } catch (err) {
    fail(err);
  } finally {
    if (button) button.disabled = false;
  }
}

// ---------------------------------------------------------------- session

function signedIn(session) {
  state.csrfToken = session.csrfToken;
  $('subject').textContent = session.subject;
  $('role').textContent = session.role;
  $('whoami').hidden = false;
  $('sign-in-section').hidden = true;
  route();
}

function signedOut() {
  state.csrfToken = null;
  stopAllWatchers();
  $('whoami').hidden = true;
  $('elections-section').hidden = true;
  $('election-section').hidden = true;
  $('sign-in-section').hidden = false;
  $('token').focus();
}

async function restoreSession() {
  try {
    signedIn(await api('GET', '/api/session'));
  } catch (err) {
    signedOut();
    if (!(err instanceof ApiError && err.status === 401)) showError(err);
  }
}

async function signIn(event) {
  event.preventDefault();
  const input = $('token');
  const token = input.value.trim();
  input.value = ''; // the page keeps no token, whether it is right or not
  await action($('sign-in'), async () => {
    signedIn(await api('POST', '/api/session', { json: { token } }));
  });
}

async function signOut() {
  await action($('sign-out'), async () => {
    try {
      await api('DELETE', '/api/session');
    } finally {
      signedOut();
    }
    showNotice('Signed out.');
  });
}

// ---------------------------------------------------------------- routing

function electionIdFromHash() {
  const m = /^#\/elections\/(\d+)$/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

function route() {
  if (!state.csrfToken) return;
  const id = electionIdFromHash();
  if (id !== state.electionId) {
    stopAllWatchers();
    state.jobs.clear();
    state.election = null;
    state.electionId = id;
  }
  if (id === null) {
    $('election-section').hidden = true;
    $('elections-section').hidden = false;
    loadElections().catch(fail);
  } else {
    $('elections-section').hidden = true;
    $('election-section').hidden = false;
    $('results-section').hidden = true;
    $('ballot-result').textContent = '';
    refreshElection().catch(fail);
  }
}

// ---------------------------------------------------------------- elections list

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text;
  row.append(td);
  return td;
}

function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

async function loadElections() {
  const { elections } = await api('GET', '/api/elections');
  const body = $('elections-body');
  body.replaceChildren();
  for (const e of elections) {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'election-row';
    tr.dataset.electionId = e.electionId;
    cell(tr, String(e.electionId));
    const a = document.createElement('a');
    a.href = `#/elections/${e.electionId}`;
    a.textContent = e.name || `Election ${e.electionId}`;
    a.dataset.testid = 'open-election';
    cell(tr, '').append(a);
    cell(tr, e.state);
    cell(tr, String(e.ballots));
    cell(tr, `${e.numberOfGuardians} (${e.quorum})`);
    cell(tr, formatTime(e.createdAt));
    body.append(tr);
  }
  $('no-elections').hidden = elections.length > 0;
}

// ---------------------------------------------------------------- one election

// refreshElection reloads the election on screen; a response that a later
// refresh overtook is dropped.
async function refreshElection() {
  const id = state.electionId;
  const seq = ++state.refreshSeq;
  const election = await api('GET', `/api/elections/${id}`);
  if (seq !== state.refreshSeq || id !== state.electionId) return;
  state.election = election;
  renderElection(election);
  if (election.state === 'DECRYPTED') {
    const results = await api('GET', `/api/elections/${id}/results`);
    if (seq === state.refreshSeq && id === state.electionId) renderResults(results);
  } else {
    $('results-section').hidden = true;
  }
}

// scheduleRefresh coalesces the refreshes that jobs ending at once ask for.
function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refreshElection().catch(fail), 100);
}

function renderElection(e) {
  $('election-title').textContent = `${e.name || 'Election'} (#${e.electionId})`;
  const section = $('election-section');
  section.dataset.state = e.state;
  section.dataset.electionId = e.electionId;
  $('election-state').textContent = e.state;
  const b = e.ballots;
  $('election-ballots').textContent =
    `${b.total} (${b.cast} cast, ${b.spoiled} spoiled${b.invalid ? `, ${b.invalid} invalid` : ''})`;
  $('election-guardians').textContent = `${e.numberOfGuardians}, quorum ${e.quorum}`;
  $('election-decrypted').textContent = `${e.guardiansDecrypted} of ${e.numberOfGuardians} guardians`;
  renderGuardians(e.guardians);
  renderJobs(e);
}

function renderGuardians(guardians) {
  const body = $('guardians-body');
  body.replaceChildren();
  const select = $('guardian-select');
  const chosen = select.value;
  select.replaceChildren();
  for (const g of guardians) {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'guardian-row';
    tr.dataset.guardianId = g.guardianId;
    tr.dataset.decrypted = g.decryptedAt ? 'true' : 'false';
    cell(tr, g.guardianId);
    cell(tr, String(g.sequenceOrder));
    let mode = 'not yet';
    if (g.decryptedAt) mode = `done (${g.decryptionMode || 'server'})`;
    else if (g.decryptionMode) mode = `in progress (${g.decryptionMode})`;
    cell(tr, mode);
    cell(tr, formatTime(g.decryptedAt));
    body.append(tr);

    const opt = document.createElement('option');
    opt.value = g.guardianId;
    opt.textContent = `${g.guardianId} (#${g.sequenceOrder})`;
    select.append(opt);
  }
  if (guardians.some((g) => g.guardianId === chosen)) select.value = chosen;
}

// ---------------------------------------------------------------- jobs

function isTerminal(st) {
  return TERMINAL.has(st.status);
}

function done(st) {
  return st.processedChunks + st.failedChunks;
}

// newest picks between a status just read with the election and the one a
// live watcher last saw: a watcher may be ahead of the election's read.
function newest(fresh) {
  const known = state.jobs.get(fresh.jobId);
  if (known && state.watchers.has(fresh.jobId) && !isTerminal(fresh) &&
      (isTerminal(known) || done(known) > done(fresh))) {
    return known;
  }
  return fresh;
}

function jobLabel(st) {
  const name = OPERATION_NAMES[st.operationType] || st.operationType;
  const guardian = guardianOfJob(st.jobId);
  return guardian ? `${name} by ${guardian}` : name;
}

function guardianOfJob(jobId) {
  const g = state.election && state.election.guardians.find((x) => x.decryptionJobId === jobId);
  return g ? g.guardianId : '';
}

function renderJobs(election) {
  const list = $('jobs-list');
  const seen = new Set();
  // Oldest first: the pipeline's order.
  const jobs = [...election.jobs].reverse();
  for (const fresh of jobs) {
    const st = newest(fresh);
    state.jobs.set(st.jobId, st);
    seen.add(st.jobId);
    const li = renderJob(st);
    list.append(li); // moves an existing item into order
    if (!isTerminal(st)) watchJob(st.jobId);
  }
  for (const li of [...list.children]) {
    if (!seen.has(li.dataset.jobId)) li.remove();
  }
  $('no-jobs').hidden = jobs.length > 0;
}

// renderJob draws a job's item, replacing the one on screen.
function renderJob(st) {
  const old = document.getElementById(`job-${st.jobId}`);
  const li = document.createElement('li');
  li.id = `job-${st.jobId}`;
  li.className = `job job-${st.status.toLowerCase()}`;
  li.dataset.testid = 'job';
  li.dataset.jobId = st.jobId;
  li.dataset.operation = st.operationType;
  li.dataset.status = st.status;
  li.dataset.percent = String(st.progressPercent);
  const guardian = guardianOfJob(st.jobId);
  if (guardian) li.dataset.guardianId = guardian;
  const w = state.watchers.get(st.jobId);
  li.dataset.live = w ? w.mode : (old ? old.dataset.live : 'none');

  const head = document.createElement('div');
  head.className = 'job-head';
  const name = document.createElement('span');
  name.className = 'job-name';
  name.textContent = jobLabel(st);
  const status = document.createElement('span');
  status.className = 'job-status';
  status.dataset.testid = 'job-status';
  status.textContent = st.status;
  const detail = document.createElement('span');
  detail.className = 'job-detail';
  detail.textContent = jobDetail(st);
  head.append(name, status, detail);

  const barRow = document.createElement('div');
  barRow.className = 'job-bar';
  const bar = document.createElement('progress');
  bar.max = 100;
  bar.value = st.progressPercent;
  bar.dataset.testid = 'job-progress';
  bar.id = `job-progress-${st.jobId}`;
  bar.setAttribute('aria-label', `${jobLabel(st)} progress`);
  bar.textContent = `${st.progressPercent} %`;
  const pct = document.createElement('span');
  pct.className = 'job-percent';
  pct.dataset.testid = 'job-percent';
  pct.textContent = `${Math.floor(st.progressPercent)} %`;
  barRow.append(bar, pct);
  li.append(head, barRow);

  if (st.status === 'FAILED' || st.status === 'CANCELLED') {
    const err = document.createElement('p');
    err.className = 'job-error';
    err.dataset.testid = 'job-error';
    err.textContent = st.errorMessage || `The job ended ${st.status} without a message.`;
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.textContent = 'Retry';
    retry.dataset.testid = 'job-retry';
    retry.setAttribute('aria-label', `Retry ${jobLabel(st)}`);
    retry.addEventListener('click', () => retryJob(retry, st.jobId));
    li.append(err, retry);
  }
  if (old) old.replaceWith(li);
  return li;
}

function jobDetail(st) {
  const parts = [`${st.processedChunks}/${st.totalChunks} chunks`];
  if (st.failedChunks) parts.push(`${st.failedChunks} failed`);
  if (!isTerminal(st) && st.chunksPerSecond) parts.push(`${st.chunksPerSecond} chunks/s`);
  if (!isTerminal(st) && st.etaSeconds != null) parts.push(`about ${Math.ceil(st.etaSeconds)} s left`);
  return parts.join(' · ');
}

async function retryJob(button, jobId) {
  await action(button, async () => {
    const res = await api('POST', `/api/jobs/${encodeURIComponent(jobId)}/retry`);
    state.jobs.set(jobId, res.job);
    renderJob(res.job);
    showNotice(`${jobLabel(res.job)} retried: ${res.job.status}.`);
    if (!isTerminal(res.job)) watchJob(jobId);
    scheduleRefresh();
  });
}

// ---------------------------------------------------------------- live progress

// watchJob follows a job until it ends: through its SSE stream, or by
// polling its status every POLL_MS when EventSource is missing or fails.
function watchJob(jobId) {
  if (state.watchers.has(jobId)) return;
  const w = { jobId, mode: 'none', source: null, timer: null };
  state.watchers.set(jobId, w);
  if (typeof window.EventSource === 'function') {
    streamJob(w);
  } else {
    pollJob(w);
  }
}

function setMode(w, mode) {
  w.mode = mode;
  const li = document.getElementById(`job-${w.jobId}`);
  if (li) li.dataset.live = mode;
}

function streamJob(w) {
  setMode(w, 'sse');
  let source;
  try {
    source = new EventSource(`/api/jobs/${encodeURIComponent(w.jobId)}/events`);
  } catch {
    pollJob(w);
    return;
  }
  w.source = source;
  source.addEventListener('status', (ev) => {
    let st;
    try {
      st = JSON.parse(ev.data);
    } catch {
      return;
    }
    onStatus(w, st);
  });
  // The server ends the stream after a terminal status, which onStatus has
  // seen first; any other error (refused, dropped) switches to polling.
  source.addEventListener('error', () => {
    if (state.watchers.get(w.jobId) !== w || w.source !== source) return;
    source.close();
    w.source = null;
    pollJob(w);
  });
}

function pollJob(w) {
  setMode(w, 'poll');
  const tick = async () => {
    w.timer = null;
    if (state.watchers.get(w.jobId) !== w) return;
    try {
      onStatus(w, await api('GET', `/api/jobs/${encodeURIComponent(w.jobId)}/status`));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        fail(err);
        return;
      }
      showError(err); // a passing failure: keep polling
    }
    if (state.watchers.get(w.jobId) === w) w.timer = setTimeout(tick, POLL_MS);
  };
  tick();
}

function onStatus(w, st) {
  if (state.watchers.get(w.jobId) !== w) return;
  state.jobs.set(st.jobId, st);
  renderJob(st);
  if (isTerminal(st)) {
    stopWatcher(w);
    scheduleRefresh();
  }
}

function stopWatcher(w) {
  if (w.source) w.source.close();
  if (w.timer) clearTimeout(w.timer);
  w.source = null;
  w.timer = null;
  state.watchers.delete(w.jobId);
}

function stopAllWatchers() {
  for (const w of [...state.watchers.values()]) stopWatcher(w);
  clearTimeout(state.refreshTimer);
}

// ---------------------------------------------------------------- starting jobs

// queued reports a started job and shows it; refreshElection starts
// following it.
function queued(res) {
  showNotice(res.message);
  return refreshElection();
}

async function startTally(event) {
  await action(event.currentTarget, async () => {
    await queued(await api('POST', '/api/create-tally-queue', { json: { election_id: state.electionId } }));
  });
}

async function startCombine(event) {
  await action(event.currentTarget, async () => {
    await queued(await api('POST', '/api/create-combine-queue', { json: { election_id: state.electionId } }));
  });
}

// readFile reads a chosen file as text with a FileReader.
function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(`Could not read ${file.name}: ${reader.error && reader.error.message}`));
    reader.readAsText(file);
  });
}

// chosenFile returns the chosen file's text and JSON.
async function chosenFile() {
  const file = $('guardian-file').files[0];
  if (!file) throw new Error('Choose your private record or shares file first.');
  const text = await readFile(file);
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file.name} is not JSON: ${err.message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error(`${file.name} must hold a JSON object.`);
  }
  return { file, text, data };
}

// fileChosen selects the guardian the file names, so the form is right
// before it is sent. The form's data-chosen names the file once read.
async function fileChosen() {
  clearMessages();
  const form = $('decrypt-form');
  delete form.dataset.chosen;
  if (!$('guardian-file').files[0]) return;
  try {
    const { file, data } = await chosenFile();
    const select = $('guardian-select');
    if (typeof data.guardian_id === 'string' && [...select.options].some((o) => o.value === data.guardian_id)) {
      select.value = data.guardian_id;
    }
    const kind = data.format === 'tallyq-guardian-shares' ? 'a shares file: use “Upload shares file”' : 'a private record: use “Start decryption”';
    showNotice(`${file.name} is ${kind}.`);
    form.dataset.chosen = file.name;
  } catch (err) {
    showError(err);
  }
}

function resetFile() {
  $('guardian-file').value = '';
  delete $('decrypt-form').dataset.chosen;
}

async function startDecryption(event) {
  event.preventDefault();
  await action($('start-decryption'), async () => {
    const { data } = await chosenFile();
    const guardianId = $('guardian-select').value;
    const res = await api('POST', '/api/create-decryption-queue',
      { json: { election_id: state.electionId, guardian_id: guardianId, guardian_record: data } });
    resetFile();
    await queued(res);
  });
}

async function uploadShares(event) {
  await action(event.currentTarget, async () => {
    const { text } = await chosenFile();
    const guardianId = $('guardian-select').value;
    const res = await api('POST',
      `/api/elections/${state.electionId}/guardians/${encodeURIComponent(guardianId)}/shares`,
      { body: text, contentType: 'application/json' });
    resetFile();
    showNotice(`Shares of ${res.guardianId} accepted: ${res.shares} shares, ${res.compensatedShares} compensated.`);
    await refreshElection();
  });
}

// ---------------------------------------------------------------- results

function renderResults(r) {
  const summary = $('results-summary');
  summary.textContent = `${r.ballotsCast} ballots cast, ${r.ballotsSpoiled} spoiled (decrypted for audit: ` +
    `${r.spoiledBallots.length}), ${r.ballotsInvalid} invalid.`;
  summary.dataset.cast = r.ballotsCast;
  summary.dataset.spoiled = r.ballotsSpoiled;
  summary.dataset.invalid = r.ballotsInvalid;
  const box = $('results');
  box.replaceChildren();
  for (const c of r.contests) {
    const fig = document.createElement('figure');
    fig.className = 'contest';
    fig.dataset.testid = 'contest';
    fig.dataset.contestId = c.contestId;
    fig.append(resultsTable(c), resultsChart(c));
    box.append(fig);
  }
  $('results-section').hidden = false;
}

function resultsTable(c) {
  const table = document.createElement('table');
  table.className = 'results-table';
  table.dataset.testid = 'results-table';
  const caption = document.createElement('caption');
  caption.textContent = `${c.name} — ${c.totalVotes} votes`;
  table.append(caption);
  const head = document.createElement('thead');
  const hr = document.createElement('tr');
  for (const h of ['Selection', 'Candidate', 'Votes', 'Share']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    hr.append(th);
  }
  head.append(hr);
  const body = document.createElement('tbody');
  for (const s of c.selections) {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'result-row';
    tr.dataset.contestId = c.contestId;
    tr.dataset.selectionId = s.selectionId;
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = s.name;
    tr.append(th);
    cell(tr, s.candidateId || '');
    const votes = cell(tr, String(s.votes));
    votes.className = 'num';
    votes.dataset.testid = 'votes';
    cell(tr, `${s.percent.toFixed(2)} %`).className = 'num';
    body.append(tr);
  }
  table.append(head, body);
  return table;
}

// resultsChart draws a contest's votes as horizontal bars in SVG, sized by
// attributes (the CSP forbids inline styles).
function resultsChart(c) {
  const rowH = 26;
  const labelW = 190;
  const barW = 320;
  const width = labelW + barW + 70;
  const height = rowH * c.selections.length + 4;
  const max = Math.max(1, ...c.selections.map((s) => s.votes));
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Votes in ${c.name}`);
  svg.classList.add('chart');
  svg.dataset.testid = 'chart';
  c.selections.forEach((s, i) => {
    const y = i * rowH + 2;
    const label = document.createElementNS(SVG_NS, 'text');
    label.setAttribute('x', String(labelW - 8));
    label.setAttribute('y', String(y + rowH / 2 + 4));
    label.setAttribute('text-anchor', 'end');
    label.textContent = s.name;
    const rect = document.createElementNS(SVG_NS, 'rect');
    rect.setAttribute('x', String(labelW));
    rect.setAttribute('y', String(y + 3));
    rect.setAttribute('height', String(rowH - 8));
    rect.setAttribute('width', String(Math.round((barW * s.votes) / max)));
    rect.setAttribute('class', 'bar');
    rect.dataset.selectionId = s.selectionId;
    rect.dataset.votes = String(s.votes);
    const value = document.createElementNS(SVG_NS, 'text');
    value.setAttribute('x', String(labelW + Math.round((barW * s.votes) / max) + 6));
    value.setAttribute('y', String(y + rowH / 2 + 4));
    value.textContent = String(s.votes);
    svg.append(label, rect, value);
  });
  return svg;
}

// ---------------------------------------------------------------- ballot lookup

async function lookupBallot(event) {
  event.preventDefault();
  const out = $('ballot-result');
  out.textContent = '';
  delete out.dataset.status;
  const code = $('tracking-code').value.trim();
  await action($('lookup-ballot'), async () => {
    try {
      const b = await api('GET', `/api/elections/${state.electionId}/ballots/${encodeURIComponent(code)}`);
      out.dataset.status = b.status;
      out.dataset.ballotId = b.ballotId;
      out.textContent = `Ballot ${b.ballotId} (${b.state}): ${b.status}${b.reason ? ` — ${b.reason}` : ''}.`;
    } catch (err) {
      if (err instanceof ApiError && err.status !== 401) {
        out.dataset.status = 'error';
        out.textContent = err.message;
        return;
      }
      throw err;
    }
  });
}

// ---------------------------------------------------------------- start

function init() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('refresh-elections').addEventListener('click', (e) => action(e.currentTarget, loadElections));
  $('refresh-election').addEventListener('click', (e) => action(e.currentTarget, refreshElection));
  $('start-tally').addEventListener('click', startTally);
  $('start-combine').addEventListener('click', startCombine);
  $('decrypt-form').addEventListener('submit', startDecryption);
  $('upload-shares').addEventListener('click', uploadShares);
  $('guardian-file').addEventListener('change', fileChosen);
  $('ballot-form').addEventListener('submit', lookupBallot);
  window.addEventListener('hashchange', () => {
    clearMessages();
    route();
  });
  restoreSession();
}

init();

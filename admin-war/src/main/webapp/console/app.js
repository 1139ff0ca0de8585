// The console's shell: sign-in, the section router (#/section), and sign-out. Each section module exports
// mount(view) → cleanup, and renders only from data the admin and /v1 APIs answer.
import * as api from './api.js';
import { clear } from './ui.js';
import * as overview from './overview.js';
import * as registry from './registry.js';
import * as gateway from './gateway.js';
import * as playground from './playground.js';
import * as experiments from './experiments.js';
import * as drift from './drift.js';
import * as routers from './routers.js';
import * as batches from './batches.js';

const SECTIONS = { overview, registry, gateway, playground, experiments, drift, routers, batches };

const $ = (id) => document.getElementById(id);
let cleanup = null;

function showLogin(message) {
  if (cleanup) { cleanup(); cleanup = null; }
  clear($('view'));
  $('nav').hidden = true;
  $('session').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('login-user').focus();
}

async function route() {
  const s = api.session();
  if (!s) { showLogin(); return; }
  $('login').hidden = true;
  $('nav').hidden = false;
  $('session').hidden = false;
  $('whoami').textContent = s.user;
  const name = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || 'overview';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.section === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (cleanup) { cleanup(); cleanup = null; }
  const view = clear($('view'));
  const section = SECTIONS[name];
  if (section) {
    document.title = `${section.TITLE} · Anvil admin`;
    cleanup = section.mount(view) || null;
  } else {
    location.hash = '#/overview';
    return;
  }
  const heading = view.querySelector('h1');
  if (heading && document.activeElement !== $('login-user')) { heading.setAttribute('tabindex', '-1'); heading.focus({ preventScroll: true }); }
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const user = $('login-user').value.trim();
  const password = $('login-password').value;
  const error = $('login-error');
  if (!user || !password) { error.textContent = 'Enter a user name and a password.'; return; }
  $('login-submit').disabled = true;
  error.textContent = '';
  try {
    await api.signIn(user, password);
    $('login-password').value = '';
    await route();
  } catch (err) {
    error.textContent = err.status === 401 ? 'Wrong user name or password.'
      : err.status === 403 ? `User '${user}' is not an administrator (role anvil-admin).`
      : `Sign-in failed: ${err.message}`;
    $('login-password').select();
  } finally {
    $('login-submit').disabled = false;
  }
});

$('logout').addEventListener('click', () => { api.signOut(); showLogin('You are signed out.'); });
api.whenSignedOut((reason) => showLogin(reason));
window.addEventListener('hashchange', route);
route();

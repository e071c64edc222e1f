// The waiting page: polls /login/push/status, shows its message and countdown, offers "send
// again" when the request was not delivered or has ended, and follows the redirect an
// approval brings.
const status = document.getElementById('status');
const again = document.getElementById('send-again');
const countdown = document.getElementById('countdown');

async function poll() {
  let s;
  try {
    const r = await fetch('/login/push/status', { cache: 'no-store' });
    s = await r.json();
  } catch (e) {
    setTimeout(poll, 1000);
    return;
  }
  status.textContent = s.message;
  status.dataset.status = s.status;
  if (s.expires_in !== undefined && s.status === 'pending') {
    countdown.textContent = 'Expires in ' + s.expires_in + ' s';
  } else {
    countdown.textContent = '';
  }
  if (s.redirect) {
    setTimeout(() => { location.href = s.redirect; }, 600);
    return;
  }
  if (s.status === 'pending') {
    again.hidden = !s.undelivered;
    setTimeout(poll, 500);
  } else {
    again.hidden = false;
  }
}

poll();

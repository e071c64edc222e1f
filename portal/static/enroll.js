// The enrollment page: polls /enroll/status until the device has registered, says so, and
// goes home.
async function poll() {
  try {
    const r = await fetch('/enroll/status', { cache: 'no-store' });
    const s = await r.json();
    if (s.enrolled) {
      const e = document.getElementById('enroll-status');
      e.textContent = 'Device registered: ' + s.device + '.';
      e.dataset.status = 'enrolled';
      setTimeout(() => { location.href = '/'; }, 800);
      return;
    }
  } catch (e) {
    // Try again at the next tick.
  }
  setTimeout(poll, 1000);
}

poll();

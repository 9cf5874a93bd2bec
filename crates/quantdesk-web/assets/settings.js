// The settings page: copies a new key's token (shown once) to the clipboard.
const button = document.getElementById('copy-token');
if (button) {
  button.addEventListener('click', async () => {
    await navigator.clipboard.writeText(document.getElementById('new-token').textContent.trim());
    button.textContent = button.dataset.copied;
  });
}

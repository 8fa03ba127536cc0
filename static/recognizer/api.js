// The page scripts' one way to the public API (/api/v1/): the session cookie plus the CSRF token, and the API's
// error shape turned into an Error with its code.

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// One API call: FormData goes as multipart, anything else as JSON. Resolves to the answer's JSON; rejects with
// an Error carrying the API's error code and message.
export async function callApi(url, { method = "POST", body, signal } = {}) {
  const headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
  const isForm = body instanceof FormData;
  if (!isForm) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    body: isForm ? body : JSON.stringify(body),
    headers,
    credentials: "same-origin",
    signal,
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `The server answered ${response.status}.`;
    const error = new Error(message);
    error.code = data && data.error ? data.error.code : "http_" + response.status;
    throw error;
  }
  return data;
}

// An image the API serves (the session cookie authenticates), as a Blob; rejects with an Error if it is not there.
export async function fetchImage(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "image/*" } });
  if (!response.ok) throw new Error(`The image could not be fetched (the server answered ${response.status}).`);
  return response.blob();
}

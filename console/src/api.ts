// Every call to Seamline's API from the console: same origin, the session cookie, the CSRF
// header on changes, and errors as the API's own {code, message}.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details?: unknown,
  ) {
    super(message);
  }
}

let csrfToken = "";
let onSignedOut: () => void = () => {};

export function setCsrf(token: string): void {
  csrfToken = token;
}

export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["x-csrf-token"] = csrfToken;
  let answer: Response;
  try {
    answer = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "unreachable", "Seamline did not answer: is `seamline serve` running?");
  }
  const text = await answer.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!answer.ok) {
    const error = (parsed ?? {}) as { code?: string; message?: string; details?: unknown };
    if (answer.status === 401 && !path.startsWith("/api/v1/auth/")) onSignedOut();
    throw new ApiError(
      answer.status,
      error.code ?? "error",
      error.message ?? `${method} ${path} answered ${answer.status}`,
      error.details,
    );
  }
  return parsed as T;
}

export const get = <T = unknown>(path: string) => api<T>("GET", path);
export const post = <T = unknown>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T = unknown>(path: string, body: unknown) => api<T>("PUT", path, body);
export const patch = <T = unknown>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const del = <T = unknown>(path: string) => api<T>("DELETE", path);

/** A query string from the set values of `params`. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const found = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  if (found.length === 0) return "";
  return "?" + new URLSearchParams(found.map(([k, v]) => [k, String(v)])).toString();
}

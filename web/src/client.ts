// The typed API client: generated types (api.d.ts, from Parley's own OpenAPI
// document) + openapi-fetch. Every call either returns the decoded body or
// throws an ApiError carrying the problem document's code.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './api';

export type Schemas = components['schemas'];
export type Message = Schemas['Message'];
export type Conversation = Schemas['Conversation'];
export type UnreadEntry = Schemas['UnreadEntry'];
export type UploadedFile = Schemas['UploadedFile'];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

let token = '';
let onUnauthorized: (code: string) => void = () => {};

export function setToken(t: string): void {
  token = t;
}

export function whenUnauthorized(f: (code: string) => void): void {
  onUnauthorized = f;
}

const auth: Middleware = {
  onRequest({ request }) {
    if (token) request.headers.set('Authorization', 'Bearer ' + token);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: location.origin });
api.use(auth);

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

// must unwraps an openapi-fetch result: the data, or an ApiError.
export async function must<T>(p: Promise<Result<T>>): Promise<T> {
  let r: Result<T>;
  try {
    r = await p;
  } catch (e) {
    throw new ApiError(0, 'NETWORK', 'The server cannot be reached (' + String((e as Error).message || e) + ').');
  }
  if (r.response.ok) return r.data as T;
  const pb = (r.error || {}) as { code?: string; detail?: string; title?: string };
  const err = new ApiError(r.response.status, pb.code || 'HTTP_' + r.response.status, pb.detail || pb.title || r.response.statusText);
  if (token && (err.code === 'UNAUTHORIZED' || err.code === 'SESSION_CONFLICT')) onUnauthorized(err.code);
  throw err;
}

// upload posts a file as multipart/form-data (POST /v1/files).
export function upload(file: File): Promise<UploadedFile> {
  const form = new FormData();
  form.append('file', file, file.name);
  return must(
    api.POST('/v1/files', {
      body: { file: '' },
      bodySerializer: () => form,
    }),
  );
}

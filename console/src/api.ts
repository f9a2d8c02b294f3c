// The AWS APIs as any SigV4 client calls them: aws4fetch signs each request with the
// signed-in keys (WebCrypto), and failures carry the API's own exception name and message.

import { AwsClient } from "aws4fetch";
import type { Credentials } from "./session";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | undefined | null>;

export class Api {
  private readonly aws: AwsClient;

  constructor(private readonly creds: Credentials) {
    this.aws = new AwsClient({
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      region: creds.region,
      service: "iot",
      retries: 0,
    });
  }

  /** One REST-JSON call; `path` segments must already be encoded (see `seg`). */
  async call<T = unknown>(method: string, path: string, opts: { query?: Query; body?: unknown; service?: string; headers?: Record<string, string> } = {}): Promise<T> {
    const url = new URL(path, this.creds.endpoint);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    }
    const init: RequestInit & { aws?: { service?: string } } = { method };
    // Some inputs travel in headers (x-amzn-principal for the thing-principal calls).
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) {
      init.body = JSON.stringify(opts.body);
      headers["content-type"] = "application/json";
    }
    if (Object.keys(headers).length) init.headers = headers;
    if (opts.service) init.aws = { service: opts.service };
    let res: Response;
    try {
      res = await this.aws.fetch(url.toString(), init);
    } catch (e) {
      throw new ApiError(`The server could not be reached: ${(e as Error).message}`, "NetworkError", 0);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text || res.statusText;
      let code = res.headers.get("x-amzn-errortype") ?? `HTTP ${res.status}`;
      try {
        const body = JSON.parse(text) as { message?: string; Message?: string; __type?: string };
        message = body.message ?? body.Message ?? message;
        if (!res.headers.get("x-amzn-errortype") && body.__type) code = body.__type;
      } catch {
        // Not JSON: the text itself is the message.
      }
      throw new ApiError(message, code.split(":")[0], res.status);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  /**
   * One of the server's own unsigned endpoints (`/metrics`, `/health`) beside the APIs. The
   * status is returned rather than thrown: a degraded node's `/health` says why with a 503.
   */
  async plain(path: string): Promise<{ status: number; text: string }> {
    try {
      const res = await fetch(new URL(path, this.creds.endpoint).toString(), { cache: "no-store" });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      throw new ApiError(`The server could not be reached: ${(e as Error).message}`, "NetworkError", 0);
    }
  }

  /** A presigned `wss?://host:port/mqtt` URL for MQTT over WebSocket (service iotdevicegateway). */
  async presignMqtt(wsUrl: string): Promise<string> {
    const signed = await this.aws.sign(wsUrl, {
      method: "GET",
      aws: { signQuery: true, service: "iotdevicegateway", region: this.creds.region },
    });
    return signed.url;
  }
}

/** One path segment, percent-encoded. */
export const seg = (s: string) => encodeURIComponent(s);

/** The message of anything thrown, for showing to the user. */
export function describe(e: unknown): string {
  if (e instanceof ApiError) return e.code && e.status ? `${e.code}: ${e.message}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

// One error type for the console, whatever envelope the route family answered with:
//   core API        {"error": "invalid argument: ..."}
//   events family   {"error": "validation_failed", "message": "..."}
//   SQL (spec 004)  {"status": "error", "error": {"code": "INVALID_SQL", "message": "..."}}
//   API Gateway     {"message": "Forbidden"}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;

  constructor(status: number, message: string, code: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export function errorFromBody(status: number, body: unknown): ApiError {
  if (body && typeof body === "object") {
    const value = body as Record<string, unknown>;
    const error = value.error;
    if (error && typeof error === "object") {
      const nested = error as Record<string, unknown>;
      return new ApiError(status, String(nested.message ?? nested.code ?? "request failed"), strOrNull(nested.code));
    }
    if (typeof error === "string" && typeof value.message === "string") {
      return new ApiError(status, value.message, error);
    }
    if (typeof error === "string") return new ApiError(status, error, strOrNull(value.code));
    if (typeof value.message === "string") return new ApiError(status, value.message);
    if (Array.isArray(value.detail)) return new ApiError(status, "invalid request: " + JSON.stringify(value.detail));
  }
  return new ApiError(status, `request failed with status ${status}`);
}

function strOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

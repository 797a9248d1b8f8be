/**
 * The few error classes services throw. One Fastify error handler maps them to status codes and
 * a page in the user's language; nothing else formats errors.
 */
export class NotFoundError extends Error {
  readonly status = 404;
  constructor(what = 'not found') {
    super(what);
  }
}

/** Invalid input. `fields` maps a form field to a message key of the view that shows it. */
export class ValidationError extends Error {
  readonly status = 422;
  constructor(
    readonly code: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(code);
  }
}

/** A rule refuses the change (e.g. deleting a department that is not empty). */
export class ConflictError extends Error {
  readonly status = 409;
  constructor(readonly code: string) {
    super(code);
  }
}

export class UnauthenticatedError extends Error {
  readonly status = 401;
}

/** Only for actors who can already see the thing (e.g. a read-only role); unseen things are NotFound. */
export class ForbiddenError extends Error {
  readonly status = 403;
  constructor(readonly code = 'forbidden') {
    super(code);
  }
}

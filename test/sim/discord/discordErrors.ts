/** Discord's JSON error bodies. */

export interface ApiErrorResponse {
  status: number;
  body: Record<string, unknown>;
}

export function apiError(status: number, code: number, message: string): ApiErrorResponse {
  return { status, body: { message, code } };
}

/** 400 Invalid Form Body (code 50035) with the nested `errors` object Discord sends. */
export function invalidFormBody(path: Array<string | number>, errorCode: string, message: string): ApiErrorResponse {
  let errors: Record<string, unknown> = { _errors: [{ code: errorCode, message }] };
  for (let i = path.length - 1; i >= 0; i--) errors = { [String(path[i])]: errors };
  return { status: 400, body: { message: "Invalid Form Body", code: 50035, errors } };
}

export const Errors = {
  unknownChannel: () => apiError(404, 10003, "Unknown Channel"),
  unknownMessage: () => apiError(404, 10008, "Unknown Message"),
  unknownWebhook: () => apiError(404, 10015, "Unknown Webhook"),
  unknownInteraction: () => apiError(404, 10062, "Unknown interaction"),
  unknownGuild: () => apiError(404, 10004, "Unknown Guild"),
  unknownUser: () => apiError(404, 10013, "Unknown User"),
  unknownApplication: () => apiError(404, 10002, "Unknown Application"),
  unauthorized: () => apiError(401, 0, "401: Unauthorized"),
  notFound: () => apiError(404, 0, "404: Not Found"),
  methodNotAllowed: () => apiError(405, 0, "405: Method Not Allowed"),
  missingAccess: () => apiError(403, 50001, "Missing Access"),
  missingPermissions: () => apiError(403, 50013, "Missing Permissions"),
  cannotEditOthers: () => apiError(403, 50005, "Cannot edit a message authored by another user"),
  emptyMessage: () => apiError(400, 50006, "Cannot send an empty message"),
  alreadyAcknowledged: () => apiError(400, 40060, "Interaction has already been acknowledged."),
  threadAlreadyCreated: () => apiError(400, 160004, "A thread has already been created for this message"),
  cannotSendToUser: () => apiError(403, 50007, "Cannot send messages to this user"),
  cannotExecuteOnDm: () => apiError(403, 50003, "Cannot execute action on a DM channel"),
  bulkDeleteCount: () =>
    apiError(400, 50016, "Provided too few or too many messages to delete. Must provide at least 2 and fewer than 100 messages to delete."),
  bulkDeleteTooOld: () => apiError(400, 50034, "You can only bulk delete messages that are under 14 days old."),
  requestTooLarge: () => apiError(413, 40005, "Request entity too large"),
  invalidWebhookToken: () => apiError(401, 50027, "Invalid Webhook Token"),
};

/**
 * Discord's checks on an application command body (names, descriptions, option order), answering
 * 400 Invalid Form Body (50035) with the error path Discord reports. A valid body becomes a record
 * with a fresh `version`; its id is given by the caller.
 */
import { type ApiErrorResponse, invalidFormBody } from "../discordErrors.ts";
import type { CommandRecord, Json } from "../types.ts";
import { clone, isObject } from "../util.ts";

/** `index`: the command's position in a bulk PUT (null for a single POST). */
export function validateCommand(
  c: unknown,
  index: number | null,
  applicationId: string,
  nextId: () => string,
): { command?: CommandRecord; error?: ApiErrorResponse } {
  const at = (k: string) => (index === null ? [k] : [index, k]);
  if (!isObject(c))
    return { error: invalidFormBody(index === null ? [] : [index], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType") };
  const type = typeof c.type === "number" ? c.type : 1;
  const name = typeof c.name === "string" ? c.name : "";
  if (!name || name.length > 32)
    return { error: invalidFormBody(at("name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.") };
  if (type === 1 && !/^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u.test(name))
    return { error: invalidFormBody(at("name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid") };
  if (type === 1 && name !== name.toLowerCase())
    return { error: invalidFormBody(at("name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid") };
  const description = typeof c.description === "string" ? c.description : "";
  if (type === 1 && (description.length < 1 || description.length > 100))
    return { error: invalidFormBody(at("description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.") };
  const options = Array.isArray(c.options) ? (c.options as Json[]) : [];
  let seenOptional = false;
  for (const [i, o] of options.entries()) {
    const oname = typeof o.name === "string" ? o.name : "";
    if (!oname || oname.length > 32 || oname !== oname.toLowerCase())
      return { error: invalidFormBody([...at("options"), i, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid") };
    const od = typeof o.description === "string" ? o.description : "";
    if (od.length < 1 || od.length > 100)
      return {
        error: invalidFormBody([...at("options"), i, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."),
      };
    if (o.required === true && seenOptional)
      return {
        error: invalidFormBody(
          [...at("options"), i],
          "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
          "Required options must be placed before non-required options",
        ),
      };
    if (o.required !== true) seenOptional = true;
  }
  const command: CommandRecord = {
    default_member_permissions: null,
    nsfw: false,
    ...clone(c),
    id: "",
    application_id: applicationId,
    version: nextId(),
    name,
    description,
    type,
  } as CommandRecord;
  return { command };
}

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
  if (type === 1 && !NAME.test(name))
    return { error: invalidFormBody(at("name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid") };
  if (type === 1 && name !== name.toLowerCase())
    return { error: invalidFormBody(at("name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid") };
  const description = typeof c.description === "string" ? c.description : "";
  if (type === 1 && (description.length < 1 || description.length > 100))
    return { error: invalidFormBody(at("description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.") };
  const optionError = validateOptions(c.options, at("options"), 0);
  if (optionError) return { error: optionError };
  const dmp = c.default_member_permissions;
  if (dmp !== undefined && dmp !== null && !(typeof dmp === "string" && /^\d+$/.test(dmp)) && !Number.isSafeInteger(dmp))
    return { error: invalidFormBody(at("default_member_permissions"), "BASE_TYPE_INVALID", "Invalid permission set") };
  const command: CommandRecord = {
    default_member_permissions: null,
    nsfw: false,
    ...clone(c),
    ...(typeof dmp === "number" ? { default_member_permissions: String(dmp) } : {}),
    id: "",
    application_id: applicationId,
    version: nextId(),
    name,
    description,
    type,
  } as CommandRecord;
  return { command };
}

const NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

/** Options at `path` (depth 0: the command's, 1: a subcommand group's or subcommand's, 2: a grouped subcommand's). */
function validateOptions(raw: unknown, path: Array<string | number>, depth: number): ApiErrorResponse | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw)) return invalidFormBody(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType");
  if (raw.length > 25) return invalidFormBody(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
  const options = raw as Json[];
  let seenOptional = false;
  const names = new Set<string>();
  for (const [i, o] of options.entries()) {
    const at = [...path, i];
    const oname = typeof o.name === "string" ? o.name : "";
    if (!oname || !NAME.test(oname) || oname !== oname.toLowerCase())
      return invalidFormBody([...at, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid");
    if (names.has(oname))
      return invalidFormBody([...at, "name"], "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique");
    names.add(oname);
    const od = typeof o.description === "string" ? o.description : "";
    if (od.length < 1 || od.length > 100)
      return invalidFormBody([...at, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
    const type = typeof o.type === "number" ? o.type : 0;
    if (type < 1 || type > 11)
      return invalidFormBody([...at, "type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.");
    if (type === 1 || type === 2) {
      if ((type === 2 && depth > 0) || (type === 1 && depth > 1))
        return invalidFormBody([...at, "type"], "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Sub-command options cannot be nested here");
      const inner = validateOptions(o.options, [...at, "options"], type === 2 ? depth + 1 : 2);
      if (inner) return inner;
      continue;
    }
    if (o.required === true && seenOptional)
      return invalidFormBody(
        at,
        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
        "Required options must be placed before non-required options",
      );
    if (o.required !== true) seenOptional = true;
    const choiceError = validateChoices(o, type, at);
    if (choiceError) return choiceError;
  }
  return null;
}

/** `choices` (STRING, INTEGER, NUMBER only; ≤ 25; names 1–100; values of the option's type, strings ≤ 100), never with `autocomplete`. */
function validateChoices(o: Json, type: number, at: Array<string | number>): ApiErrorResponse | null {
  const choices = o.choices;
  const hasChoices = Array.isArray(choices) && choices.length > 0;
  if (o.autocomplete === true) {
    if (type !== 3 && type !== 4 && type !== 10)
      return invalidFormBody(
        [...at, "autocomplete"],
        "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
        "Autocomplete is not supported for this option type",
      );
    if (hasChoices)
      return invalidFormBody(
        [...at, "autocomplete"],
        "APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES_EXCLUSIVE",
        "Autocomplete cannot be set with choices",
      );
  }
  if (choices === undefined || choices === null) return null;
  if (!Array.isArray(choices)) return invalidFormBody([...at, "choices"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType");
  if (choices.length > 0 && type !== 3 && type !== 4 && type !== 10)
    return invalidFormBody(
      [...at, "choices"],
      "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
      "Choices are not supported for this option type",
    );
  if (choices.length > 25) return invalidFormBody([...at, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
  return validateChoiceList(choices, type, [...at, "choices"]);
}

/** A list of choices, as in a command option or an autocomplete result (`type`: the option type, or 0 for any). */
export function validateChoiceList(choices: unknown[], type: number, path: Array<string | number>): ApiErrorResponse | null {
  for (const [j, raw] of choices.entries()) {
    const ch = isObject(raw) ? raw : {};
    const cname = typeof ch.name === "string" ? ch.name : "";
    if (cname.length < 1 || cname.length > 100)
      return invalidFormBody([...path, j, "name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
    const v = ch.value;
    const okType =
      type === 3
        ? typeof v === "string"
        : type === 4
          ? Number.isInteger(v)
          : type === 10
            ? typeof v === "number"
            : typeof v === "string" || typeof v === "number";
    if (!okType)
      return invalidFormBody(
        [...path, j, "value"],
        type === 3 ? "BASE_TYPE_STRING" : "NUMBER_TYPE_COERCE",
        type === 3 ? "Must be a string." : "Value is not a valid number.",
      );
    if (typeof v === "string" && v.length > 100)
      return invalidFormBody([...path, j, "value"], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
  }
  return null;
}

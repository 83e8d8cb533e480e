/** Server-side validation of message create/edit bodies, with Discord's limits and error shapes. */
import { type ApiErrorResponse, Errors, invalidFormBody } from "../discordErrors.ts";

export const CONTENT_MAX = 2000;
export const EMBED_DESCRIPTION_MAX = 4096;
export const EMBEDS_TOTAL_MAX = 6000;

export interface ValidateContext {
  mode: "create" | "edit";
  /** interaction callbacks and webhook messages allow the ephemeral flag */
  interaction?: boolean;
  /** attachments (multipart files) that came with the request */
  fileCount?: number;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function validateEmbeds(embeds: unknown): ApiErrorResponse | null {
  if (embeds === undefined || embeds === null) return null;
  if (!Array.isArray(embeds)) return invalidFormBody(["embeds"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType");
  if (embeds.length > 10) return invalidFormBody(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
  let total = 0;
  for (const [i, raw] of embeds.entries()) {
    const e = (raw ?? {}) as Record<string, unknown>;
    const title = str(e.title);
    const description = str(e.description);
    if (title.length > 256) return invalidFormBody(["embeds", i, "title"], "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.");
    if (description.length > EMBED_DESCRIPTION_MAX)
      return invalidFormBody(["embeds", i, "description"], "BASE_TYPE_MAX_LENGTH", `Must be ${EMBED_DESCRIPTION_MAX} or fewer in length.`);
    total += title.length + description.length;
    const footer = (e.footer ?? {}) as Record<string, unknown>;
    const author = (e.author ?? {}) as Record<string, unknown>;
    if (str(footer.text).length > 2048)
      return invalidFormBody(["embeds", i, "footer", "text"], "BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length.");
    if (str(author.name).length > 256)
      return invalidFormBody(["embeds", i, "author", "name"], "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.");
    total += str(footer.text).length + str(author.name).length;
    const fields = Array.isArray(e.fields) ? (e.fields as Array<Record<string, unknown>>) : [];
    if (fields.length > 25) return invalidFormBody(["embeds", i, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
    for (const [j, f] of fields.entries()) {
      if (str(f.name).length > 256)
        return invalidFormBody(["embeds", i, "fields", j, "name"], "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.");
      if (str(f.value).length > 1024)
        return invalidFormBody(["embeds", i, "fields", j, "value"], "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.");
      total += str(f.name).length + str(f.value).length;
    }
  }
  if (total > EMBEDS_TOTAL_MAX)
    return invalidFormBody(["embeds"], "MESSAGE_EMBEDS_TOO_LONG", `Embed size exceeds maximum size of ${EMBEDS_TOTAL_MAX}`);
  return null;
}

function validateComponents(components: unknown, flags: number): ApiErrorResponse | null {
  if (components === undefined || components === null) return null;
  if (!Array.isArray(components)) return invalidFormBody(["components"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType");
  const componentsV2 = (flags & (1 << 15)) !== 0;
  if (componentsV2) return null; // layout components: not validated here
  if (components.length > 5) return invalidFormBody(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.");
  const seen = new Set<string>();
  for (const [i, raw] of components.entries()) {
    const row = (raw ?? {}) as Record<string, unknown>;
    if (row.type !== 1)
      return invalidFormBody(["components", i, "type"], "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).');
    const children = Array.isArray(row.components) ? (row.components as Array<Record<string, unknown>>) : null;
    if (!children || children.length === 0)
      return invalidFormBody(["components", i, "components"], "BASE_TYPE_MIN_LENGTH", "Must be between 1 and 5 in length.");
    if (children.length > 5)
      return invalidFormBody(["components", i, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.");
    for (const [j, c] of children.entries()) {
      const at = ["components", i, "components", j];
      if (c.type === 2) {
        const style = c.style;
        if (typeof style !== "number" || style < 1 || style > 6)
          return invalidFormBody([...at, "style"], "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.");
        if (str(c.label).length > 80) return invalidFormBody([...at, "label"], "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.");
        if (style === 5) {
          if (!str(c.url)) return invalidFormBody([...at, "url"], "BASE_TYPE_REQUIRED", "This field is required");
          continue;
        }
        if (style === 6) continue; // premium button: sku_id
        if (c.label === undefined && c.emoji === undefined)
          return invalidFormBody([...at], "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A button must have a label or an emoji");
      } else if (c.type === 3 || c.type === 5 || c.type === 6 || c.type === 7 || c.type === 8) {
        if (children.length > 1)
          return invalidFormBody([...at], "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "The specified component exceeds the maximum width");
      } else {
        return invalidFormBody([...at, "type"], "COMPONENT_TYPE_INVALID", "Component type is invalid for this context");
      }
      const customId = str(c.custom_id);
      if (!customId) return invalidFormBody([...at, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required");
      if (customId.length > 100) return invalidFormBody([...at, "custom_id"], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
      if (seen.has(customId))
        return invalidFormBody([...at, "custom_id"], "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated");
      seen.add(customId);
    }
  }
  return null;
}

function validateAllowedMentions(am: unknown): ApiErrorResponse | null {
  if (am === undefined || am === null) return null;
  if (typeof am !== "object")
    return invalidFormBody(["allowed_mentions"], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType");
  const a = am as Record<string, unknown>;
  const parse = a.parse;
  if (parse !== undefined) {
    if (!Array.isArray(parse))
      return invalidFormBody(["allowed_mentions", "parse"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType");
    for (const [i, p] of parse.entries()) {
      if (p !== "users" && p !== "roles" && p !== "everyone")
        return invalidFormBody(
          ["allowed_mentions", "parse", i],
          "BASE_TYPE_CHOICES",
          "Value must be one of ('roles', 'users', 'everyone').",
        );
    }
    if (parse.includes("users") && Array.isArray(a.users) && a.users.length > 0)
      return invalidFormBody(
        ["allowed_mentions"],
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
        'parse:["users"] and users: [ids...] are mutually exclusive.',
      );
    if (parse.includes("roles") && Array.isArray(a.roles) && a.roles.length > 0)
      return invalidFormBody(
        ["allowed_mentions"],
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
        'parse:["roles"] and roles: [ids...] are mutually exclusive.',
      );
  }
  if (Array.isArray(a.users) && a.users.length > 100)
    return invalidFormBody(["allowed_mentions", "users"], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
  return null;
}

/** Returns the error Discord would answer for this body, or null when it is acceptable. Never truncates. */
export function validateMessageBody(body: Record<string, unknown>, ctx: ValidateContext): ApiErrorResponse | null {
  const content = body.content;
  if (content !== undefined && content !== null && typeof content !== "string")
    return invalidFormBody(["content"], "BASE_TYPE_STRING", "Must be a string.");
  // Discord counts characters; UTF-16 code units are the stricter reading, so a body accepted here fits there.
  if (typeof content === "string" && content.length > CONTENT_MAX)
    return invalidFormBody(["content"], "BASE_TYPE_MAX_LENGTH", `Must be ${CONTENT_MAX} or fewer in length.`);
  const flags = typeof body.flags === "number" ? body.flags : 0;
  const embedError = validateEmbeds(body.embeds);
  if (embedError) return embedError;
  const componentError = validateComponents(body.components, flags);
  if (componentError) return componentError;
  const mentionError = validateAllowedMentions(body.allowed_mentions);
  if (mentionError) return mentionError;
  if (ctx.mode === "create") {
    const hasContent = typeof content === "string" && content.length > 0;
    const hasEmbeds = Array.isArray(body.embeds) && body.embeds.length > 0;
    const hasComponents = Array.isArray(body.components) && body.components.length > 0;
    const hasFiles = (ctx.fileCount ?? 0) > 0 || (Array.isArray(body.attachments) && body.attachments.length > 0);
    const hasStickers = Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0;
    const hasPoll = body.poll !== undefined && body.poll !== null;
    if (!hasContent && !hasEmbeds && !hasComponents && !hasFiles && !hasStickers && !hasPoll) return Errors.emptyMessage();
  }
  return null;
}

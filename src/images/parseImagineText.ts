/**
 * Options written into the text of a command, as Slack's `/imagine` takes them (a slash command
 * has one text field): `a cat on the moon size:768x512 steps:30 seed:42 no:blurry`. Known keys
 * are taken out wherever they stand; everything else is the prompt. A value with spaces is quoted
 * (`no:"text, watermark"`, Slack's curly quotes too); `no:` may be repeated. Only shapes the text:
 * validateImagine checks the values.
 */
import { type ImageOptionField, ImageOptionRejectedError } from "../errors.ts";
import type { ImagineInput } from "./imagineOptions.ts";

/** Key words (case-insensitive) and the option each one sets. */
export const IMAGINE_TEXT_KEYS: Readonly<Record<string, Exclude<ImageOptionField, "prompt">>> = {
  size: "size",
  steps: "steps",
  step: "steps",
  seed: "seed",
  no: "negativePrompt",
  neg: "negativePrompt",
  negative: "negativePrompt",
};

const KEYS = Object.keys(IMAGINE_TEXT_KEYS).join("|");
/** A key, optional blanks, then a quoted or bare value (a bare value is never the next `key:`). */
const OPTION = new RegExp(`(^|\\s)(${KEYS}):[ \\t]*(?:"([^"]*)"|\u201c([^\u201d]*)\u201d|(?!(?:${KEYS}):)(\\S+))?`, "giu");

const LABEL: Record<Exclude<ImageOptionField, "prompt">, string> = {
  size: "size",
  steps: "steps",
  seed: "seed",
  negativePrompt: "no",
};

/** Splits `text` into the prompt and its `key:value` options. Throws on a key without a value or a size/steps/seed given twice. */
export function parseImagineText(text: string): ImagineInput {
  const input: ImagineInput = {};
  const negatives: string[] = [];
  const prompt = text.replace(OPTION, (_m, lead: string, key: string, quoted?: string, curly?: string, bare?: string) => {
    const field = IMAGINE_TEXT_KEYS[key.toLowerCase()]!;
    const value = quoted ?? curly ?? bare;
    if (value === undefined) {
      throw new ImageOptionRejectedError("IMAGE_OPTION_INVALID", field, `\`${LABEL[field]}:\` needs a value, e.g. ${example(field)}.`);
    }
    if (field === "negativePrompt") {
      if (value.trim() !== "") negatives.push(value.trim());
    } else if (input[field] !== undefined) {
      throw new ImageOptionRejectedError("IMAGE_OPTION_INVALID", field, `\`${LABEL[field]}:\` is given twice; give it once.`);
    } else {
      input[field] = value;
    }
    return lead === "" ? "" : " ";
  });
  input.prompt = prompt.replace(/[ \t]+/g, " ").trim();
  if (negatives.length > 0) input.negativePrompt = negatives.join(", ");
  return input;
}

function example(field: Exclude<ImageOptionField, "prompt">): string {
  return field === "size" ? "`size:768x512`" : field === "steps" ? "`steps:30`" : field === "seed" ? "`seed:42`" : '`no:"blurry, text"`';
}

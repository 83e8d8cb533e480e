/**
 * Which attached files are worth downloading as text, from what the platform declares (the file
 * name and its MIME type): text (plain text, Markdown, code, JSON, CSV, logs…), images, other
 * binaries (never downloaded), or unknown (downloaded and sniffed: decodeText decides). A text
 * type is a claim, not a fact — the content is checked after the download.
 */

export type FileKind = "text" | "image" | "binary" | "unknown";

const TEXT_EXTENSIONS = new Set(
  (
    "txt text md markdown mdx rst adoc asciidoc org log out csv tsv json jsonl ndjson json5 geojson yaml yml toml ini cfg conf " +
    "env properties xml xsd xsl html htm xhtml css scss sass less svg js mjs cjs jsx ts tsx mts cts py pyi pyw rb go rs java " +
    "kt kts scala sc groovy gradle c h cc cpp cxx hpp hh hxx cs fs fsx vb swift m mm php pl pm lua r jl dart ex exs erl hrl " +
    "hs clj cljs edn elm ml mli nim zig v sol sh bash zsh fish ps1 psm1 bat cmd sql graphql gql proto tf tfvars hcl nix " +
    "cmake mk make dockerfile diff patch tex bib sty srt vtt vue svelte astro lock gitignore gitattributes dockerignore " +
    "editorconfig http rest csproj sln plist pem crt asm s ipynb"
  ).split(" "),
);

/** File names without an extension that are text. */
const TEXT_NAMES = new Set(
  "dockerfile makefile readme license licence changelog authors contributing procfile gemfile rakefile jenkinsfile vagrantfile brewfile justfile".split(
    " ",
  ),
);

const IMAGE_EXTENSIONS = new Set("png jpg jpeg gif webp bmp tif tiff heic heif avif ico jfif".split(" "));

const BINARY_EXTENSIONS = new Set(
  (
    "pdf zip gz tgz tar 7z rar bz2 xz zst exe dll so dylib bin iso dmg img apk ipa deb rpm msi doc docx xls xlsx ppt pptx " +
    "odt ods odp pages numbers key mp3 mp4 m4a m4v wav ogg oga opus flac aac mov avi mkv webm wmv woff woff2 ttf otf eot " +
    "class jar war wasm pyc o a obj sqlite sqlite3 db parquet avro pkl npy npz safetensors gguf onnx psd ai sketch fig"
  ).split(" "),
);

const TEXT_MIME = [
  /^text\//,
  /^application\/(json|ld\+json|x-ndjson|xml|javascript|x-javascript|ecmascript|typescript|x-typescript|x-sh|x-shellscript)$/,
  /^application\/(yaml|x-yaml|toml|x-toml|sql|x-sql|graphql|x-httpd-php|x-python|x-ruby|x-perl|csv|x-tex|x-latex|x-diff|x-patch)$/,
  /^application\/(x-subrip|x-ipynb\+json|x-csh|x-empty)$/,
  /\+(json|xml)$/,
  /^image\/svg\+xml$/,
];

const BINARY_MIME = [
  /^(audio|video|font|model)\//,
  /^application\/(pdf|zip|gzip|x-gzip|x-tar|x-7z-compressed|x-rar-compressed|vnd\.rar|x-bzip2|x-xz|zstd|java-archive|wasm)$/,
  /^application\/(msword|vnd\.|x-msdownload|x-executable|x-mach-binary|x-sharedlib|x-sqlite3)/,
];

/** The lower-case extension of a file name ("" when none); a leading-dot name (`.gitignore`) is its own extension. */
export function extensionOf(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  const dot = base.lastIndexOf(".");
  return dot < 0 ? "" : base.slice(dot + 1).toLowerCase();
}

/** The bare MIME type: lower case, parameters (`; charset=…`) dropped. */
export function bareMimeType(mimeType: string | undefined): string {
  return (mimeType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** What a file is, from its name and declared MIME type. Text wins when either says text (the content is checked later). */
export function fileKind(name: string, mimeType: string | undefined): FileKind {
  const ext = extensionOf(name);
  const mime = bareMimeType(mimeType);
  const base = (name.split(/[\\/]/).pop() ?? name).toLowerCase();
  if (TEXT_EXTENSIONS.has(ext) || (ext === "" && TEXT_NAMES.has(base)) || TEXT_MIME.some((r) => r.test(mime))) return "text";
  if (IMAGE_EXTENSIONS.has(ext) || mime.startsWith("image/")) return "image";
  if (BINARY_EXTENSIONS.has(ext) || BINARY_MIME.some((r) => r.test(mime))) return "binary";
  return "unknown";
}

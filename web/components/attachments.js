// The files of a task (API.md §20): a list with thumbnails, uploads each with a progress bar and
// a Cancel button, a lightbox for images and a download link for everything else. Files come
// from the "Attach files" button, from a drop onto the task panel or a comment, or from a
// screenshot pasted into a comment box (comment-thread.js hands those here).
//
// A file is opened only through the server's content URL, which serves anything but raster
// images and PDF as a download (never as a page of this origin); the lightbox shows only what
// the server sniffed as an image.

import * as api from "../api.js";
import { h, replace, announce, dialog, confirmDialog, relative } from "../dom.js";

/** What the server shows inline and the lightbox may show. */
const IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/**
 * @typedef {{task: api.Task, me: api.User, canUpload: boolean, canModerate: boolean, signal: AbortSignal,
 *   onCount: (n: number) => void, onChange: () => void}} FilesOptions
 *   `onChange`: the list changed (the comment thread shows each comment's files)
 * @typedef {{o: FilesOptions, items: api.Attachment[], list: HTMLElement, uploads: HTMLElement,
 *   heading: HTMLElement, input: HTMLInputElement, waits: number}} Files
 *   `waits`: reloads left while an image's thumbnail is being made
 * @typedef {{section: HTMLElement, ready: Promise<void>, reload: () => Promise<void>,
 *   upload: (files: File[], commentId?: string) => Promise<void>, forComment: (id: string) => HTMLElement | null}} FilesHandle
 */

/**
 * The task's files, as a section of the task panel.
 * @param {FilesOptions} o
 * @returns {FilesHandle}
 */
export function attachmentList(o) {
  /** @type {Files} */
  const f = {
    o, items: [], waits: 0,
    list: h("ul", { class: "attachments", id: "attachments", "aria-label": "Attached files" }),
    uploads: h("ul", { class: "uploads", id: "uploads", "aria-label": "Uploads in progress" }),
    heading: h("h3", { class: "small", id: "attachments-heading" }, "Attachments"),
    input: /** @type {HTMLInputElement} */ (h("input", { type: "file", multiple: true, id: "attach-input", class: "sr-only", tabindex: "-1", "aria-hidden": "true" })),
  };
  f.input.addEventListener("change", () => {
    const files = [...(f.input.files || [])];
    f.input.value = "";
    upload(f, files);
  });
  const attach = o.canUpload
    ? h("button", { type: "button", class: "ghost small", id: "attach-files", onclick: () => f.input.click() }, "Attach files")
    : null;
  const section = h("section", { class: "files", "aria-labelledby": "attachments-heading" },
    h("div", { class: "files-head" }, f.heading, attach, f.input),
    o.canUpload ? h("p", { class: "hint", id: "drop-hint" }, "Or drop files onto this task; paste a screenshot into a comment.") : null,
    f.uploads, f.list);
  const reload = () => load(f);
  return {
    section, ready: reload(), reload,
    upload: (files, commentId) => upload(f, files, commentId),
    forComment: (id) => compact(f, id),
  };
}

/** @param {Files} f */
async function load(f) {
  f.items = await api.all(`/tasks/${f.o.task.id}/attachments`, { signal: f.o.signal });
  draw(f);
  awaitThumbnails(f);
}

/**
 * A thumbnail is made in the background and no event says when: while an image lacks one,
 * read the list again a few times, a little later each time.
 * @param {Files} f
 */
function awaitThumbnails(f) {
  const pending = f.items.some((a) => IMAGES.includes(a.content_type) && !a.thumbnail);
  if (!pending || f.waits <= 0 || f.o.signal.aborted) return;
  const delay = 700 * (6 - f.waits);
  f.waits -= 1;
  setTimeout(() => load(f).catch(() => {}), delay);
}

/** @param {Files} f */
function draw(f) {
  const own = f.items.filter((a) => !a.comment_id);
  replace(f.list, ...own.map((a) => item(f, a)));
  f.list.hidden = own.length === 0;
  f.heading.textContent = f.items.length ? `Attachments (${f.items.length})` : "Attachments";
  f.o.onCount(f.items.length);
  f.o.onChange();
}

/** @param {number} bytes */
export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const contentUrl = (/** @type {api.Attachment} */ a) => `/api/v1/attachments/${a.id}/content`;

/**
 * One file: its thumbnail (or its kind), its name (opening the lightbox for an image, else a
 * download), size, who and when, and Delete for its uploader and the project's admins.
 * @param {Files} f
 * @param {api.Attachment} a
 */
function item(f, a) {
  const image = IMAGES.includes(a.content_type);
  const open = () => lightbox(f, a);
  const preview = a.thumbnail
    ? h("img", { src: `/api/v1/attachments/${a.id}/thumbnail`, alt: "", class: "thumb", loading: "lazy" })
    : h("span", { class: "file-kind", "aria-hidden": "true" }, kindOf(a));
  const name = image
    ? h("button", { type: "button", class: "link attachment-name", onclick: open, "aria-label": `View ${a.name}` }, a.name)
    : h("a", { href: contentUrl(a), download: a.name, class: "attachment-name" }, a.name);
  const mine = a.uploaded_by?.id === f.o.me.id && f.o.canUpload;
  return h("li", { class: "attachment", dataset: { id: a.id } },
    image ? h("button", { type: "button", class: "thumb-button", onclick: open, tabindex: "-1", "aria-hidden": "true" }, preview) : preview,
    h("span", { class: "attachment-text" }, name,
      h("span", { class: "muted small" }, `${formatSize(a.size)} · ${a.uploaded_by?.name ?? "Deleted user"} · ${relative(new Date(a.created_at))}`)),
    mine || f.o.canModerate
      ? h("button", { type: "button", class: "ghost small danger delete-attachment", "aria-label": `Delete ${a.name}`, onclick: () => remove(f, a) }, "Delete")
      : null);
}

/** @param {api.Attachment} a */
function kindOf(a) {
  const dot = a.name.lastIndexOf(".");
  const ext = dot > 0 ? a.name.slice(dot + 1, dot + 5).toUpperCase() : "";
  return ext || "FILE";
}

/**
 * A comment's files, small, under its text (null when it has none).
 * @param {Files} f
 * @param {string} commentId
 */
function compact(f, commentId) {
  const files = f.items.filter((a) => a.comment_id === commentId);
  if (!files.length) return null;
  return h("ul", { class: "attachments compact", "aria-label": "Files of this comment" }, ...files.map((a) => item(f, a)));
}

/**
 * Uploads files one after another, each with its progress bar and Cancel.
 * @param {Files} f
 * @param {File[]} files
 * @param {string} [commentId]
 */
async function upload(f, files, commentId) {
  if (!f.o.canUpload || !files.length) return;
  const rows = files.map((file) => progressRow(f, file));
  for (const row of rows) {
    if (row.cancel.signal.aborted) continue;
    const query = new URLSearchParams({ name: row.file.name || "pasted.png" });
    if (commentId) query.set("comment_id", commentId);
    try {
      /** @type {api.Attachment} */
      const added = await api.upload(`/tasks/${f.o.task.id}/attachments?${query}`, row.file, {
        signal: row.cancel.signal,
        onProgress: (sent, total) => (row.bar.value = total ? Math.round((sent / total) * 100) : 100),
      });
      row.el.remove();
      if (!f.items.some((a) => a.id === added.id)) f.items.unshift(added);
      draw(f);
      announce(`Attached ${added.name}.`);
      if (IMAGES.includes(added.content_type) && f.waits === 0) {
        f.waits = 5;
        awaitThumbnails(f);
      }
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") {
        row.el.remove();
        announce(`Upload of ${row.file.name} cancelled.`);
        continue;
      }
      failed(row, e instanceof Error ? e.message : String(e));
    }
  }
}

/**
 * @param {Files} f
 * @param {File} file
 */
function progressRow(f, file) {
  const cancel = new AbortController();
  const bar = /** @type {HTMLProgressElement} */ (h("progress", { max: 100, value: 0, "aria-label": `Uploading ${file.name}` }));
  const stop = h("button", { type: "button", class: "ghost small cancel-upload", "aria-label": `Cancel upload of ${file.name}`, onclick: () => cancel.abort() }, "Cancel");
  const el = h("li", { class: "upload" }, h("span", { class: "upload-name" }, file.name || "pasted image"), bar, stop);
  f.uploads.append(el);
  f.o.signal.addEventListener("abort", () => cancel.abort());
  return { file, cancel, bar, el, stop };
}

/**
 * @param {{el: HTMLElement, bar: HTMLProgressElement, stop: HTMLElement, file: File}} row
 * @param {string} why
 */
function failed(row, why) {
  row.bar.remove();
  replace(row.stop.parentElement || row.el,
    h("span", { class: "upload-name" }, row.file.name),
    h("span", { class: "error-text", role: "alert" }, why),
    h("button", { type: "button", class: "ghost small", onclick: () => row.el.remove() }, "Dismiss"));
}

/**
 * @param {Files} f
 * @param {api.Attachment} a
 */
async function remove(f, a) {
  const ok = await confirmDialog("Delete file", `Delete “${a.name}”? This cannot be undone.`, "Delete file", true);
  if (!ok) return;
  try {
    await api.del(`/attachments/${a.id}`);
    announce(`Deleted ${a.name}.`, { visible: true });
  } catch (e) {
    if (!(e instanceof api.ApiError && e.status === 404)) announce(e instanceof Error ? e.message : String(e), { error: true });
  }
  f.items = f.items.filter((x) => x.id !== a.id);
  draw(f);
}

/**
 * An image, large, in a dialog: previous and next among the task's images, a download link,
 * Esc or Close to leave.
 * @param {Files} f
 * @param {api.Attachment} first
 */
function lightbox(f, first) {
  const images = f.items.filter((a) => IMAGES.includes(a.content_type));
  let at = Math.max(0, images.findIndex((a) => a.id === first.id));
  const img = /** @type {HTMLImageElement} */ (h("img", { class: "lightbox-image", alt: "" }));
  const caption = h("p", { class: "lightbox-caption" });
  const download = /** @type {HTMLAnchorElement} */ (h("a", { class: "button", id: "lightbox-download" }, "Download"));
  const show = () => {
    const a = images[at];
    img.src = contentUrl(a);
    img.alt = a.name;
    download.href = contentUrl(a);
    download.download = a.name;
    caption.textContent = `${a.name} · ${formatSize(a.size)}${images.length > 1 ? ` · ${at + 1} of ${images.length}` : ""}`;
  };
  /** @param {number} step */
  const move = (step) => {
    at = (at + step + images.length) % images.length;
    show();
  };
  show();
  return dialog("Image", (close) => {
    const keys = (/** @type {KeyboardEvent} */ e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") move(e.key === "ArrowRight" ? 1 : -1);
      // The page's own shortcuts (Esc closes the task) must not see keys meant for the dialog.
      e.stopPropagation();
    };
    queueMicrotask(() => img.closest("dialog")?.addEventListener("keydown", keys));
    return [
      h("figure", { class: "lightbox" }, img, caption),
      h("div", { class: "actions" },
        images.length > 1 ? h("button", { type: "button", id: "lightbox-prev", onclick: () => move(-1) }, "Previous") : null,
        images.length > 1 ? h("button", { type: "button", id: "lightbox-next", onclick: () => move(1) }, "Next") : null,
        download,
        h("button", { type: "button", class: "primary", id: "lightbox-close", onclick: () => close() }, "Close")),
    ];
  });
}

/**
 * Makes `el` take dropped files (it shows a mark while files are dragged over it). A drop on
 * an inner target that handled it (a comment) does not reach an outer one (the panel).
 * @param {HTMLElement} el
 * @param {(files: File[]) => void} onFiles
 */
export function dropTarget(el, onFiles) {
  const carriesFiles = (/** @type {DragEvent} */ e) => !!e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  el.addEventListener("dragover", (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    e.stopPropagation();
    el.classList.add("drop-over");
  });
  el.addEventListener("dragleave", (e) => {
    if (!(e.relatedTarget instanceof Node) || !el.contains(e.relatedTarget)) el.classList.remove("drop-over");
  });
  el.addEventListener("drop", (e) => {
    el.classList.remove("drop-over");
    if (!carriesFiles(e)) return;
    e.preventDefault();
    e.stopPropagation();
    onFiles([...(e.dataTransfer?.files || [])]);
  });
}

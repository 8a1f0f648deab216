/**
 * How the supported platforms authenticate an artifact download, as data: HTTP Basic
 * (micropython_ota), a bearer or header token (Exosite `X-Exosite-CIK`), a query credential
 * (insigh.io `dk`). Protocol codecs produce it; the download engine applies it on the wire.
 *
 * @module
 */

export type DownloadAuth =
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | { type: 'header'; name: string; value: string }
  /**
   * A credential in the query string (insigh.io `dk`), added to the URL only when the request is
   * sent: the URL kept in a manifest (and persisted with the machine's state) never holds it.
   */
  | { type: 'query'; name: string; value: string };

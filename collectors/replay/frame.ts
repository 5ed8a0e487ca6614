/**
 * A frame of a recorded session, whatever the file format.
 * @module
 */

/** What a recorded line was. */
export type RecordedFrameKind = "recv" | "send" | "connect" | "rest";

/** One recorded frame. */
export interface RecordedFrame {
  /** `recv`: a frame from the venue; `send`: ours; `connect`: a (re)connection; `rest`: a REST answer. */
  readonly kind: RecordedFrameKind;
  /** Local receive time, microseconds since the epoch. */
  readonly recvTs: number;
  /** Frame text (JSON for every venue we know); the URL for `connect`. */
  readonly data: string;
  /** Connection or URL the frame belongs to, where the format says. */
  readonly source?: string;
}

/** A line of a recording that could not be read as a frame. */
export interface UnreadableLine {
  readonly kind: "unreadable";
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

/** What readers yield: frames, and unreadable lines for the caller to count. */
export type RecordingItem = RecordedFrame | UnreadableLine;

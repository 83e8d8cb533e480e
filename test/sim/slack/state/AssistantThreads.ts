/**
 * Assistant threads (the AI app split view): per thread, the status the bot set ("is thinking…",
 * cleared by an empty status, by the bot's next reply in the thread, or after two minutes without
 * one), the suggested prompts and the title.
 */
import type { SimAssistantThread } from "../types.ts";

export interface AssistantThreadRecord {
  teamId: string;
  channel: string;
  threadTs: string;
  user: string;
  status: string;
  statusSetAt: number;
  statusHistory: string[];
  loadingMessages?: string[];
  title?: string;
  prompts?: Array<{ title: string; message: string }>;
  promptsTitle?: string;
}

export class AssistantThreads {
  private readonly threads = new Map<string, AssistantThreadRecord>();

  constructor(private readonly statusTimeoutMs: () => number) {}

  private key(teamId: string, channel: string, threadTs: string): string {
    return `${teamId}:${channel}:${threadTs}`;
  }

  /** The thread's record, created on first use (setStatus also works in channel threads). */
  get(teamId: string, channel: string, threadTs: string, user = ""): AssistantThreadRecord {
    const key = this.key(teamId, channel, threadTs);
    let record = this.threads.get(key);
    if (!record) {
      record = { teamId, channel, threadTs, user, status: "", statusSetAt: 0, statusHistory: [] };
      this.threads.set(key, record);
    }
    return record;
  }

  find(teamId: string, channel: string, threadTs: string): AssistantThreadRecord | undefined {
    return this.threads.get(this.key(teamId, channel, threadTs));
  }

  /** The bot posted in the thread: Slack clears the status. */
  botReplied(teamId: string, channel: string, threadTs: string | undefined): void {
    if (threadTs === undefined) return;
    const record = this.find(teamId, channel, threadTs);
    if (record) record.status = "";
  }

  view(record: AssistantThreadRecord, now = Date.now()): SimAssistantThread {
    if (record.status !== "" && now - record.statusSetAt >= this.statusTimeoutMs()) record.status = "";
    const view: SimAssistantThread = {
      channel: record.channel,
      threadTs: record.threadTs,
      user: record.user,
      status: record.status,
      statusHistory: [...record.statusHistory],
    };
    if (record.loadingMessages) view.loadingMessages = [...record.loadingMessages];
    if (record.title !== undefined) view.title = record.title;
    if (record.prompts) view.prompts = record.prompts.map((p) => ({ ...p }));
    if (record.promptsTitle !== undefined) view.promptsTitle = record.promptsTitle;
    return view;
  }
}

// Hand-written declarations for `require('pipewrap')` (lib/index.js).
//
// The raw native module is declared by the generated ../index.d.ts (napi
// build); this file describes the public surface built on it: the net-style
// layer (lib/net.js), the IPC layer (lib/ipc.js) and the binding re-exports
// (lib/binding.js).

/// <reference types="node" />

import { EventEmitter } from 'events';
import * as stream from 'stream';
import type * as net from 'net';
import type * as dgram from 'dgram';
import type * as child_process from 'child_process';
import type { URL } from 'url';
import type { Pipe as NativePipe } from '../index';
import type * as nativeModule from '../index';

// ---------------------------------------------------------------------------
// Helpers

/**
 * The event-name parameter of the catch-all listener overloads: any event
 * name *except* the typed ones, so that a typed event with a listener of the
 * wrong shape is rejected instead of falling through to the catch-all.
 */
type OtherEvent<E, Events> = E extends keyof Events ? never : E;

// ---------------------------------------------------------------------------
// Errors

/** `code`s of the errors pipewrap's net layer throws or emits itself. */
export type NetErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_FD_TYPE'
  | 'ERR_MISSING_ARGS'
  | 'ERR_SOCKET_BAD_PORT'
  | 'ERR_SOCKET_CONNECTING'
  | 'ERR_SOCKET_CLOSED'
  | 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION'
  | 'ERR_SERVER_ALREADY_LISTEN'
  | 'ERR_SERVER_NOT_RUNNING'
  | 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM'
  /** Write after the peer's FIN on a socket without `allowHalfOpen`. */
  | 'EPIPE';

/** `code`s of the errors pipewrap's IPC layer throws or emits itself. */
export type IPCErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_MISSING_ARGS'
  | 'ERR_IPC_CHANNEL_CLOSED'
  | 'ERR_IPC_DISCONNECTED'
  | 'ERR_INVALID_HANDLE_TYPE'
  /** A received handle could not be used (unsupported fd type, conversion failed). */
  | 'ERR_IPC_BAD_HANDLE'
  /** A received message could not be parsed (emitted as 'error', not thrown). */
  | 'ERR_IPC_BAD_MESSAGE'
  /** A received message exceeded `maxMessageSize` (a `RangeError`, see {@link IPCMessageTooLargeError}). */
  | 'ERR_IPC_MESSAGE_TOO_LARGE'
  | 'ERR_CHILD_CLOSED_BEFORE_REPLY'
  | 'ERR_CHILD_PROCESS_IPC_REQUIRED'
  | 'ERR_IPC_ONE_PIPE'
  | 'ERR_PIPEWRAP_NO_SOCKETPAIR';

/** `code`s the native `Pipe` methods throw with (argument misuse; Node would abort). */
export type BindingErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_THIS'
  | 'ERR_CONSTRUCT_CALL_REQUIRED';

/** Every `code` pipewrap itself assigns (system errors use errno names, see {@link PipewrapError}). */
export type ErrorCode = NetErrorCode | IPCErrorCode | BindingErrorCode;

/**
 * The shape of the errors pipewrap throws and emits. Node-style coded errors
 * carry one of {@link ErrorCode}; system errors (connect, listen, read,
 * write, open, ...) carry the errno name (`'ENOENT'`, `'ECONNREFUSED'`,
 * `'EADDRINUSE'`, `'ENAMETOOLONG'`, ...), a negative `errno` and `syscall`.
 */
export interface PipewrapError extends Error {
  code: ErrorCode | (string & {});
  /** Negative libuv errno (system errors only). */
  errno?: number;
  /** `'connect'`, `'listen'`, `'read'`, `'write'`, `'open'`, `'accept'`, `'shutdown'`, `'getsockopt'`, `'uv_pipe_chmod'`. */
  syscall?: string;
  /** The socket path (connect and listen errors). */
  address?: string | null;
  /** Always -1 on listen errors (Node's shape for pipes). */
  port?: number;
}

/** `ERR_IPC_MESSAGE_TOO_LARGE`: a `RangeError` with the sizes involved. */
export interface IPCMessageTooLargeError extends RangeError {
  code: 'ERR_IPC_MESSAGE_TOO_LARGE';
  /** Bytes received so far for the offending message (a lower bound). */
  size: number;
  maxMessageSize: number;
}

// ---------------------------------------------------------------------------
// Socket

/** The peer process at the other end of a socket (SO_PEERCRED). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** Socket options shared by the constructor, `connect()` and `socketpair()`. */
export interface SocketCommonOptions {
  /** Keep the writable side open after the peer's FIN (default `false`). */
  allowHalfOpen?: boolean | undefined;
  /**
   * pipewrap extension: receive fds sent with SCM_RIGHTS; each batch is
   * announced by an `'fds'` event before the `'data'` that carried it.
   */
  fdPassing?: boolean | undefined;
  /** Set `false` to make the socket non-readable. */
  readable?: boolean | undefined;
  /** Set `false` to make the socket non-writable. */
  writable?: boolean | undefined;
  highWaterMark?: number | undefined;
  readableHighWaterMark?: number | undefined;
  writableHighWaterMark?: number | undefined;
  /** Readable-side encoding (as `setEncoding()`). */
  encoding?: BufferEncoding | undefined;
  defaultEncoding?: BufferEncoding | undefined;
  /** Destroys the socket when aborted. */
  signal?: AbortSignal | undefined;
  /**
   * As Node's (read by the constructor, so by `connect()` too): reads go into `buffer` (or a buffer `buffer()` returns per
   * read) and to `callback(bytes, buffer)` instead of `'data'`; a callback
   * returning `false` stops reading until `resume()`.
   */
  onread?: { buffer: Uint8Array | (() => Uint8Array); callback: (bytesWritten: number, buffer: Uint8Array) => boolean | void } | undefined;
  /** Object mode is not supported (throws `ERR_INVALID_ARG_VALUE`). */
  objectMode?: false | undefined;
  readableObjectMode?: false | undefined;
  writableObjectMode?: false | undefined;
}

export interface SocketConstructorOpts extends SocketCommonOptions {
  /** Wrap an existing, connected binding handle. */
  handle?: NativePipe | undefined;
  /** Wrap an open socket or FIFO fd (anything else throws `ERR_INVALID_FD_TYPE`). */
  fd?: number | undefined;
  /** With a handle/fd: start with reading stopped (`readableFlowing === false`). */
  pauseOnCreate?: boolean | undefined;
  /** With a handle/fd: do not start reading until the stream is read. */
  manualStart?: boolean | undefined;
}

/** Options of `socket.connect(options)`. */
export interface SocketConnectOpts {
  /** Filesystem path or Linux abstract name (`'\0name'`); at most 107 (abstract: 108) bytes. */
  path: string;
  /** Idle timeout in ms (as `setTimeout()`); applied by `connect()`/`createConnection()` only, as Node's. */
  timeout?: number | undefined;
  /** Overrides the constructor's `fdPassing`. */
  fdPassing?: boolean | undefined;
  /** TCP is not supported: passing a port throws `ERR_INVALID_ARG_VALUE`. */
  port?: never;
  host?: never;
}

/** Options of `connect(options)` / `createConnection(options)`: socket options plus where to connect. */
export interface NetConnectOpts extends SocketCommonOptions, SocketConnectOpts {}

/** `socketpair()` options: those of the Socket constructor, applied to both ends (always readable and writable). */
export interface SocketpairOptions extends Omit<SocketCommonOptions, 'readable' | 'writable'> {
  pauseOnCreate?: boolean | undefined;
  manualStart?: boolean | undefined;
  /** `'fd'`: leave the second end unwrapped, a blocking fd for a child's stdio. Default `'socket'`. */
  peer?: 'socket' | undefined;
}

/** `socketpair({ peer: 'fd' })` options. */
export interface SocketpairFdOptions extends Omit<SocketpairOptions, 'peer'> {
  peer: 'fd';
}

export type SocketReadyState = 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed';

/** Typed Socket events: name → listener arguments. */
export interface SocketEvents {
  /** The connection is established. */
  connect: [];
  /** Emitted by `connect()` as it starts (no port or address family for a path), as Node's. */
  connectionAttempt: [path: string, port: undefined, family: undefined];
  /** The attempt failed; `'error'` follows with the same error. */
  connectionAttemptFailed: [path: string, port: undefined, family: undefined, error: PipewrapError];
  /** Right after `'connect'`. */
  ready: [];
  /** A chunk (a `string` instead once `setEncoding()` was called). */
  data: [data: Buffer];
  /** pipewrap extension (`fdPassing`): fds received with the next `'data'` chunk. The receiver owns them. */
  fds: [fds: number[]];
  end: [];
  /**
   * After the fd is closed; `hadError` when destroyed with an error. (A
   * socket destroyed before it ever had a handle emits it without argument.)
   */
  close: [hadError: boolean];
  error: [err: PipewrapError];
  /** The idle timeout from `setTimeout()` elapsed (the socket is NOT closed). */
  timeout: [];
  drain: [];
  finish: [];
  pause: [];
  resume: [];
  readable: [];
  pipe: [src: stream.Readable];
  unpipe: [src: stream.Readable];
}

/** Callback of writes and `sendFds()`. */
export type WriteCallback = (err?: Error | null) => void;

/**
 * A Unix-domain stream socket, as `net.Socket` but a plain `stream.Duplex`
 * over a pipewrap `Pipe` handle. Emits `'close'` after the fd is closed.
 */
export declare class Socket extends stream.Duplex {
  /** A number is shorthand for `{ fd }`. */
  constructor(options?: SocketConstructorOpts | number);

  /** Connects to a path or abstract name; `listener` is added once for `'connect'`. */
  connect(path: string, connectListener?: () => void): this;
  connect(options: SocketConnectOpts, connectListener?: () => void): this;

  setEncoding(encoding?: BufferEncoding): this;
  /**
   * Emits `'timeout'` after `msecs` of inactivity (0 disables). The timer
   * never keeps the process alive. `callback` is added once for `'timeout'`.
   */
  setTimeout(msecs: number, callback?: () => void): this;
  /** No-op (TCP only), for API compatibility. */
  setNoDelay(noDelay?: boolean): this;
  /** No-op (TCP only), for API compatibility. */
  setKeepAlive(enable?: boolean, initialDelay?: number): this;
  ref(): this;
  unref(): this;

  end(cb?: () => void): this;
  end(chunk: string | Uint8Array, cb?: () => void): this;
  end(chunk: string | Uint8Array, encoding: BufferEncoding, cb?: () => void): this;
  write(chunk: string | Uint8Array, cb?: WriteCallback): boolean;
  write(chunk: string | Uint8Array, encoding: BufferEncoding | undefined, cb?: WriteCallback): boolean;
  /** Ends the writable side, then destroys once everything is written. */
  destroySoon(): void;
  /**
   * As Node's: only TCP connections can be reset, so a connected pipe throws
   * `ERR_INVALID_HANDLE_TYPE`; a socket without a handle is destroyed with
   * `ERR_SOCKET_CLOSED`.
   */
  resetAndDestroy(): this;

  /** Unix sockets have no per-socket address: always `{}` (see `server.address()`). */
  address(): Record<string, never>;

  /** Bytes received. Kept after destroy. */
  readonly bytesRead: number;
  /** Bytes written, including bytes still buffered. */
  readonly bytesWritten: number;
  /** `true` between `connect()` and `'connect'`. */
  connecting: boolean;
  /** `true` while not connected (no handle yet, or connecting). */
  readonly pending: boolean;
  readonly readyState: SocketReadyState;
  /** `writableLength`, or `undefined` without a handle. */
  readonly bufferSize: number | undefined;
  /** pipewrap extension: the socket's fd, or -1 without a handle. */
  readonly fd: number;
  /** The value last passed to `setTimeout()`. */
  timeout?: number;
  /** The server that accepted this socket, else `null`. */
  server: Server | null;
  readonly remoteAddress: undefined;
  readonly remoteFamily: undefined;
  readonly remotePort: undefined;
  readonly localAddress: undefined;
  readonly localPort: undefined;
  readonly localFamily: undefined;

  /**
   * pipewrap extension: the peer process's credentials (SO_PEERCRED).
   * Throws `ERR_SOCKET_CLOSED` while not connected.
   */
  getPeerCredentials(): PeerCredentials;
  /**
   * pipewrap extension: sends 1 to 64 open fds (SCM_RIGHTS) with `data` (or
   * a single zero byte), ordered with the other writes. The receiver needs
   * `fdPassing`. `callback` runs once the fds are in the kernel: the sender
   * may close its copies then. Returns `write()`'s backpressure flag.
   */
  sendFds(fds: readonly number[], callback?: WriteCallback): boolean;
  sendFds(fds: readonly number[], data?: string | ArrayBufferView, callback?: WriteCallback): boolean;

  addListener<K extends keyof SocketEvents>(event: K, listener: (...args: SocketEvents[K]) => void): this;
  addListener<E extends string | symbol>(event: OtherEvent<E, SocketEvents>, listener: (...args: any[]) => void): this;
  on<K extends keyof SocketEvents>(event: K, listener: (...args: SocketEvents[K]) => void): this;
  on<E extends string | symbol>(event: OtherEvent<E, SocketEvents>, listener: (...args: any[]) => void): this;
  once<K extends keyof SocketEvents>(event: K, listener: (...args: SocketEvents[K]) => void): this;
  once<E extends string | symbol>(event: OtherEvent<E, SocketEvents>, listener: (...args: any[]) => void): this;
  prependListener<K extends keyof SocketEvents>(event: K, listener: (...args: SocketEvents[K]) => void): this;
  prependListener<E extends string | symbol>(event: OtherEvent<E, SocketEvents>, listener: (...args: any[]) => void): this;
  prependOnceListener<K extends keyof SocketEvents>(event: K, listener: (...args: SocketEvents[K]) => void): this;
  prependOnceListener<E extends string | symbol>(event: OtherEvent<E, SocketEvents>, listener: (...args: any[]) => void): this;
  off<K extends keyof SocketEvents>(event: K, listener: (...args: SocketEvents[K]) => void): this;
  off<E extends string | symbol>(event: OtherEvent<E, SocketEvents>, listener: (...args: any[]) => void): this;
  removeListener<K extends keyof SocketEvents>(event: K, listener: (...args: SocketEvents[K]) => void): this;
  removeListener<E extends string | symbol>(event: OtherEvent<E, SocketEvents>, listener: (...args: any[]) => void): this;
  emit<K extends keyof SocketEvents>(event: K, ...args: SocketEvents[K]): boolean;
  emit<E extends string | symbol>(event: OtherEvent<E, SocketEvents>, ...args: any[]): boolean;
}

// ---------------------------------------------------------------------------
// Server

export interface ServerOptions {
  /** Accepted sockets keep their writable side open after the peer's FIN. */
  allowHalfOpen?: boolean | undefined;
  /** Accepted sockets start paused (reading stopped). */
  pauseOnConnect?: boolean | undefined;
  /** pipewrap extension: accepted sockets receive fds (`'fds'` events). */
  fdPassing?: boolean | undefined;
  /** High-water mark of accepted sockets (both sides). */
  highWaterMark?: number | undefined;
  /** TCP options, kept on the server as Node's are; no effect on a pipe. */
  noDelay?: boolean | undefined;
  keepAlive?: boolean | undefined;
  keepAliveInitialDelay?: number | undefined;
}

interface ListenPathBase {
  /** Filesystem path or Linux abstract name (`'\0name'`); never truncated (too long: `ENAMETOOLONG`). */
  path: string;
  /** Default 511. */
  backlog?: number | undefined;
  /**
   * pipewrap extension: if the path is a socket file nobody answers on
   * (ECONNREFUSED), unlink it and bind again instead of failing with EADDRINUSE.
   */
  reclaimStale?: boolean | undefined;
  /** Closes the server when aborted (before `'listening'` if aborted already). */
  signal?: AbortSignal | undefined;
  /** TCP is not supported: passing a port throws `ERR_INVALID_ARG_VALUE`. */
  port?: never;
  host?: never;
  handle?: never;
  fd?: never;
}

/**
 * `server.listen(options)` with a path. `mode` (pipewrap extension: set
 * before `listen()`, so no connection is accepted under the umask's mode)
 * cannot be combined with `readableAll`/`writableAll`; neither is allowed
 * for abstract names.
 */
export type ListenOptions =
  | (ListenPathBase & {
      /** Make the socket file readable by all (`fchmod`). */
      readableAll?: boolean | undefined;
      /** Make the socket file writable by all (`fchmod`). */
      writableAll?: boolean | undefined;
      mode?: undefined;
    })
  | (ListenPathBase & {
      /** Permission bits 0..0o777, as a number or an octal string (`'660'`). */
      mode?: number | string | undefined;
      readableAll?: false | undefined;
      writableAll?: false | undefined;
    });

/** Something that owns a listening-capable handle: a pipewrap or `net` server. */
export type ListenHandleSource = Server | net.Server;

/** What `listen(handle)` / `listen({ handle })` accept. */
export type ListenHandle = NativePipe | ListenHandleSource | { fd: number };

/** `server.listen({ handle })`: an existing handle (a pipewrap `Pipe` is adopted; others by their fd). */
export interface ListenHandleOptions {
  handle: ListenHandle;
  backlog?: number | undefined;
}

/** `server.listen({ fd })`: an already bound socket fd. */
export interface ListenFdOptions {
  fd: number;
  backlog?: number | undefined;
  /** Closes the server when aborted. */
  signal?: AbortSignal | undefined;
  path?: never;
  handle?: never;
}

/** Typed Server events: name → listener arguments. */
export interface ServerEvents {
  connection: [socket: Socket];
  listening: [];
  /** After `close()`, once every connection has ended. */
  close: [];
  error: [err: PipewrapError];
  /** A connection was refused because of `maxConnections` (no arguments: pipes have no addresses). */
  drop: [];
}

/** A Unix-domain socket server, as `net.Server` (a plain EventEmitter). */
export declare class Server extends EventEmitter {
  constructor(connectionListener?: (socket: Socket) => void);
  constructor(options?: ServerOptions, connectionListener?: (socket: Socket) => void);

  /**
   * Starts listening. A number (TCP port) throws `ERR_INVALID_ARG_VALUE`;
   * bind/listen failures are emitted as `'error'` on the next tick.
   * Throws `ERR_SERVER_ALREADY_LISTEN` if already listening.
   */
  listen(path: string, backlog?: number, listeningListener?: () => void): this;
  listen(path: string, listeningListener?: () => void): this;
  listen(options: ListenOptions | ListenHandleOptions | ListenFdOptions, listeningListener?: () => void): this;
  listen(options: ListenOptions | ListenHandleOptions | ListenFdOptions, backlog?: number, listeningListener?: () => void): this;
  listen(handle: ListenHandle, backlog?: number, listeningListener?: () => void): this;
  listen(handle: ListenHandle, listeningListener?: () => void): this;

  /**
   * Stops accepting; `'close'` follows once all connections have ended. The
   * bound path is unlinked. `callback` gets `ERR_SERVER_NOT_RUNNING` if the
   * server was not listening.
   */
  close(callback?: (err?: PipewrapError) => void): this;
  /**
   * The path last passed to `listen()`; `null` if never listened on a path.
   * Note: it is kept after `close()` and after a failed listen.
   */
  address(): string | null;
  getConnections(callback: (error: Error | null, count: number) => void): this;
  ref(): this;
  unref(): this;

  /** Refuse (and `'drop'`) connections beyond this many. */
  maxConnections: number | undefined;
  readonly listening: boolean;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  fdPassing: boolean;
  highWaterMark: number;
  /** TCP options as given (`keepAliveInitialDelay` in seconds); no effect on a pipe. */
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveInitialDelay: number;

  addListener<K extends keyof ServerEvents>(event: K, listener: (...args: ServerEvents[K]) => void): this;
  addListener<E extends string | symbol>(event: OtherEvent<E, ServerEvents>, listener: (...args: any[]) => void): this;
  on<K extends keyof ServerEvents>(event: K, listener: (...args: ServerEvents[K]) => void): this;
  on<E extends string | symbol>(event: OtherEvent<E, ServerEvents>, listener: (...args: any[]) => void): this;
  once<K extends keyof ServerEvents>(event: K, listener: (...args: ServerEvents[K]) => void): this;
  once<E extends string | symbol>(event: OtherEvent<E, ServerEvents>, listener: (...args: any[]) => void): this;
  prependListener<K extends keyof ServerEvents>(event: K, listener: (...args: ServerEvents[K]) => void): this;
  prependListener<E extends string | symbol>(event: OtherEvent<E, ServerEvents>, listener: (...args: any[]) => void): this;
  prependOnceListener<K extends keyof ServerEvents>(event: K, listener: (...args: ServerEvents[K]) => void): this;
  prependOnceListener<E extends string | symbol>(event: OtherEvent<E, ServerEvents>, listener: (...args: any[]) => void): this;
  off<K extends keyof ServerEvents>(event: K, listener: (...args: ServerEvents[K]) => void): this;
  off<E extends string | symbol>(event: OtherEvent<E, ServerEvents>, listener: (...args: any[]) => void): this;
  removeListener<K extends keyof ServerEvents>(event: K, listener: (...args: ServerEvents[K]) => void): this;
  removeListener<E extends string | symbol>(event: OtherEvent<E, ServerEvents>, listener: (...args: any[]) => void): this;
  emit<K extends keyof ServerEvents>(event: K, ...args: ServerEvents[K]): boolean;
  emit<E extends string | symbol>(event: OtherEvent<E, ServerEvents>, ...args: any[]): boolean;
}

/** Creates a {@link Server}; `connectionListener` is added for `'connection'`. */
export declare function createServer(connectionListener?: (socket: Socket) => void): Server;
export declare function createServer(options?: ServerOptions, connectionListener?: (socket: Socket) => void): Server;

/** Creates a {@link Socket} and connects it; `connectListener` is added once for `'connect'`. */
export declare function connect(path: string, connectListener?: () => void): Socket;
export declare function connect(options: NetConnectOpts, connectListener?: () => void): Socket;
/** Alias of {@link connect}. */
export declare function createConnection(path: string, connectListener?: () => void): Socket;
export declare function createConnection(options: NetConnectOpts, connectListener?: () => void): Socket;

/**
 * pipewrap extension: a connected pair of Sockets (AF_UNIX socketpair). Either
 * end's `fd` can be handed to a child process as stdio. Throws
 * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` without the native binding.
 */
export declare function socketpair(options?: SocketpairOptions): [Socket, Socket];
/** The second end as a plain blocking fd (close-on-exec) to hand to a child's stdio. */
export declare function socketpair(options: SocketpairFdOptions): [Socket, number];

/**
 * pipewrap extension: closes an fd pipewrap handed out (a `socketpair({ peer:
 * 'fd' })` end, an fd from the `'fds'` event) without `fs`, which warns about
 * fds it did not open inside worker threads. 0 or a negative errno.
 */
export declare function closeFd(fd: number): number;

// ---------------------------------------------------------------------------
// IPC

/** Wire format of the channel: Node's JSON lines or V8 serialization. */
export type Serialization = 'json' | 'advanced';

export interface ChannelOptions {
  /** Default `'json'`. Must match the peer's. */
  serialization?: Serialization | undefined;
  /**
   * pipewrap extension: largest message accepted from the peer, in bytes
   * (positive integer, default 128 MiB); larger ones are an
   * `ERR_IPC_MESSAGE_TOO_LARGE` `'error'` and close the channel.
   */
  maxMessageSize?: number | undefined;
}

/**
 * `fork()` options: `child_process.fork()`'s (spawn options such as `cwd`,
 * `env`, `uid`, `detached`, `signal`, `killSignal`, `timeout` are passed on;
 * `shell` is always off) plus {@link ChannelOptions}.
 */
export interface ForkOptions extends Omit<child_process.ForkOptions, 'serialization' | 'stdio'>, ChannelOptions {
  /** Node binary to run (default `process.execPath`). */
  execPath?: string | undefined;
  /** Node flags (default `process.execArgv`). */
  execArgv?: string[] | undefined;
  /** Without `stdio`: `true` pipes stdin/stdout/stderr, `false` (default) inherits them. */
  silent?: boolean | undefined;
  /**
   * A string applies to stdin/stdout/stderr (the channel is fd 3). An array
   * must contain `'ipc'` exactly once (`ERR_CHILD_PROCESS_IPC_REQUIRED`,
   * `ERR_IPC_ONE_PIPE`); that entry becomes the channel.
   */
  stdio?: child_process.StdioOptions | undefined;
}

/** A message: anything the channel's serialization can carry (`bigint`/`undefined`/functions are rejected at the top level). */
export type Serializable = string | number | boolean | object | null;

/**
 * Handles `send()` can pass: pipewrap or `net` sockets/servers (as
 * `'net.Socket'`/`'net.Server'`) and raw `Pipe` handles (`'net.Native'`).
 * At run time a `dgram.Socket` (`'dgram.Socket'`) is sent too, as Node does;
 * it is not in this type yet (the type test still pins the old surface).
 * Anything else throws `ERR_INVALID_HANDLE_TYPE`.
 */
export type SendHandle = Socket | Server | net.Socket | net.Server | NativePipe;

/** A raw fd received for a `'net.Native'`/`'dgram.Native'` message when Node's own wraps are unavailable. */
export interface RawHandleDescriptor {
  type: 'TCP' | 'UDP' | 'UNSUPPORTED';
  fd: number;
}

/** One of Node's internal handle wraps (TCP/UDP), as a `'net.Native'`/`'dgram.Native'` message delivers. */
export interface NodeInternalHandle {
  readonly fd: number;
  close(callback?: () => void): void;
  [key: string]: unknown;
}

/**
 * The handle a `'message'` arrives with, converted as the sender's type asks:
 * a Unix socket/server becomes a pipewrap {@link Socket}/{@link Server}, a
 * TCP one a `net.Socket`/`net.Server`, UDP a `dgram.Socket`; `'net.Native'`
 * handles stay raw.
 */
export type ReceivedHandle =
  | Socket
  | Server
  | net.Socket
  | net.Server
  | dgram.Socket
  | NativePipe
  | NodeInternalHandle
  | RawHandleDescriptor;

export interface MessageOptions {
  /** Keep a sent socket usable in this process too (default: it is handed over and closed here after the ACK). */
  keepOpen?: boolean | undefined;
  /** Do not report write errors (used for Node's internal messages). */
  swallowErrors?: boolean | undefined;
}

/** Called once the message was written (or with `ERR_IPC_CHANNEL_CLOSED` / a write error). */
export type SendCallback = (error: Error | null) => void;

/**
 * The `channel` object of {@link ChildProcessIPC} and {@link IPCChannel}
 * (not exported as a class): keeps the process alive or not.
 */
export interface IPCControl extends EventEmitter {
  /** Keep the event loop alive for the channel (overrides the automatic reference counting). */
  ref(): void;
  /** Let the process exit even if the channel is open (overrides the automatic reference counting). */
  unref(): void;
  /** The channel's fd, or `undefined` once closed. */
  readonly fd: number | undefined;
  /** `'unref'`: the automatic reference count dropped to zero. */
  on(event: 'unref', listener: () => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** Typed events of both IPC endpoints. */
export interface IPCEvents {
  /**
   * A message from the peer, with the handle sent along (or `undefined`).
   * Messages arriving before there is a listener are kept and delivered to
   * the first one.
   */
  message: [message: any, sendHandle: ReceivedHandle | undefined];
  /** Node's internal `NODE_*` commands. */
  internalMessage: [message: { cmd: string; [key: string]: unknown }, sendHandle: ReceivedHandle | undefined];
  /** The channel is closed (by either side). */
  disconnect: [];
  /**
   * Send failures without a callback, `ERR_IPC_DISCONNECTED`, and faults
   * caused by the peer (`ERR_IPC_BAD_MESSAGE`, `ERR_IPC_MESSAGE_TOO_LARGE`,
   * `ERR_IPC_BAD_HANDLE`; these become process warnings when nobody listens).
   */
  error: [err: PipewrapError];
}

/** Typed events of a forked child. */
export interface ChildProcessIPCEvents extends IPCEvents {
  spawn: [];
  /** After `'disconnect'` (or 1 s after the process ended if the channel stays open). */
  exit: [code: number | null, signal: NodeJS.Signals | null];
  /** After `'exit'`, once the stdio streams and the channel are closed. */
  close: [code: number | null, signal: NodeJS.Signals | null];
  /** Spawning failed, or a channel error (see {@link IPCEvents.error}). */
  error: [err: PipewrapError];
}

interface IPCEndpoint {
  /** `false` once `disconnect()` was called or the channel closed. */
  readonly connected: boolean;
  /** The channel's ref/unref control, or `null` once closed. */
  readonly channel: IPCControl | null;
  /** @deprecated Node's alias of `channel` (DEP0129); warns once. */
  _channel: IPCControl | null;
  /**
   * Sends a message (and optionally a handle). Returns `false` when the
   * write queue is over its high-water mark, or when the channel is closed
   * (then `callback` or `'error'` gets `ERR_IPC_CHANNEL_CLOSED`). Throws
   * `ERR_MISSING_ARGS`/`ERR_INVALID_ARG_TYPE` for a bad message and
   * `ERR_INVALID_HANDLE_TYPE` for an unsupported handle.
   */
  send(message: Serializable, callback?: SendCallback): boolean;
  send(message: Serializable, sendHandle: SendHandle | null | undefined, callback?: SendCallback): boolean;
  send(message: Serializable, sendHandle: SendHandle | null | undefined, options: MessageOptions | undefined, callback?: SendCallback): boolean;
  /** Closes the channel once pending handle sends are acknowledged; `'error'` (`ERR_IPC_DISCONNECTED`) if already disconnected. */
  disconnect(): void;
}

/**
 * The channel returned by {@link openChannel}. Keeps the process alive only
 * while it has `'message'`/`'disconnect'` listeners or writes in flight,
 * unless `ref()`/`unref()` say otherwise.
 */
export declare class IPCChannel extends EventEmitter implements IPCEndpoint {
  private constructor();
  readonly connected: boolean;
  readonly channel: IPCControl | null;
  /** @deprecated Node's alias of `channel` (DEP0129); warns once. */
  _channel: IPCControl | null;
  /** The channel's fd, or `undefined` once closed. */
  readonly fd: number | undefined;
  send(message: Serializable, callback?: SendCallback): boolean;
  send(message: Serializable, sendHandle: SendHandle | null | undefined, callback?: SendCallback): boolean;
  send(message: Serializable, sendHandle: SendHandle | null | undefined, options: MessageOptions | undefined, callback?: SendCallback): boolean;
  disconnect(): void;
  ref(): this;
  unref(): this;

  addListener<K extends keyof IPCEvents>(event: K, listener: (...args: IPCEvents[K]) => void): this;
  addListener<E extends string | symbol>(event: OtherEvent<E, IPCEvents>, listener: (...args: any[]) => void): this;
  on<K extends keyof IPCEvents>(event: K, listener: (...args: IPCEvents[K]) => void): this;
  on<E extends string | symbol>(event: OtherEvent<E, IPCEvents>, listener: (...args: any[]) => void): this;
  once<K extends keyof IPCEvents>(event: K, listener: (...args: IPCEvents[K]) => void): this;
  once<E extends string | symbol>(event: OtherEvent<E, IPCEvents>, listener: (...args: any[]) => void): this;
  prependListener<K extends keyof IPCEvents>(event: K, listener: (...args: IPCEvents[K]) => void): this;
  prependListener<E extends string | symbol>(event: OtherEvent<E, IPCEvents>, listener: (...args: any[]) => void): this;
  prependOnceListener<K extends keyof IPCEvents>(event: K, listener: (...args: IPCEvents[K]) => void): this;
  prependOnceListener<E extends string | symbol>(event: OtherEvent<E, IPCEvents>, listener: (...args: any[]) => void): this;
  off<K extends keyof IPCEvents>(event: K, listener: (...args: IPCEvents[K]) => void): this;
  off<E extends string | symbol>(event: OtherEvent<E, IPCEvents>, listener: (...args: any[]) => void): this;
  removeListener<K extends keyof IPCEvents>(event: K, listener: (...args: IPCEvents[K]) => void): this;
  removeListener<E extends string | symbol>(event: OtherEvent<E, IPCEvents>, listener: (...args: any[]) => void): this;
  emit<K extends keyof IPCEvents>(event: K, ...args: IPCEvents[K]): boolean;
  emit<E extends string | symbol>(event: OtherEvent<E, IPCEvents>, ...args: any[]): boolean;
}

/**
 * What {@link fork} returns: Node's own `child_process.ChildProcess` (so
 * `instanceof ChildProcess` holds, and `pid`, `killed`, `exitCode`,
 * `signalCode`, `stdio`, `spawnargs`, `kill()`, `ref()`, `unref()` and
 * `[Symbol.dispose]()` are Node's), with the pipewrap channel installed on
 * it as Node's `setupChannel` installs its own: `send()`, `disconnect()`,
 * `connected`, `channel` and the channel's events. `ref()`/`unref()` (un)ref
 * the process, not the channel, as in Node (use `channel.ref()`/`unref()`).
 * Events come in the order `'disconnect'`, `'exit'`, `'close'`.
 */
export interface ChildProcessIPC
  extends Omit<child_process.ChildProcess, keyof IPCEndpoint | 'addListener' | 'on' | 'once' | 'prependListener' |
    'prependOnceListener' | 'off' | 'removeListener' | 'emit'>, IPCEndpoint {
  readonly connected: boolean;
  readonly channel: IPCControl | null;
  /** @deprecated Node's alias of `channel` (DEP0129); warns once. */
  _channel: IPCControl | null;
  send(message: Serializable, callback?: SendCallback): boolean;
  send(message: Serializable, sendHandle: SendHandle | null | undefined, callback?: SendCallback): boolean;
  send(message: Serializable, sendHandle: SendHandle | null | undefined, options: MessageOptions | undefined, callback?: SendCallback): boolean;
  disconnect(): void;

  addListener<K extends keyof ChildProcessIPCEvents>(event: K, listener: (...args: ChildProcessIPCEvents[K]) => void): this;
  addListener<E extends string | symbol>(event: OtherEvent<E, ChildProcessIPCEvents>, listener: (...args: any[]) => void): this;
  on<K extends keyof ChildProcessIPCEvents>(event: K, listener: (...args: ChildProcessIPCEvents[K]) => void): this;
  on<E extends string | symbol>(event: OtherEvent<E, ChildProcessIPCEvents>, listener: (...args: any[]) => void): this;
  once<K extends keyof ChildProcessIPCEvents>(event: K, listener: (...args: ChildProcessIPCEvents[K]) => void): this;
  once<E extends string | symbol>(event: OtherEvent<E, ChildProcessIPCEvents>, listener: (...args: any[]) => void): this;
  prependListener<K extends keyof ChildProcessIPCEvents>(event: K, listener: (...args: ChildProcessIPCEvents[K]) => void): this;
  prependListener<E extends string | symbol>(event: OtherEvent<E, ChildProcessIPCEvents>, listener: (...args: any[]) => void): this;
  prependOnceListener<K extends keyof ChildProcessIPCEvents>(event: K, listener: (...args: ChildProcessIPCEvents[K]) => void): this;
  prependOnceListener<E extends string | symbol>(event: OtherEvent<E, ChildProcessIPCEvents>, listener: (...args: any[]) => void): this;
  off<K extends keyof ChildProcessIPCEvents>(event: K, listener: (...args: ChildProcessIPCEvents[K]) => void): this;
  off<E extends string | symbol>(event: OtherEvent<E, ChildProcessIPCEvents>, listener: (...args: any[]) => void): this;
  removeListener<K extends keyof ChildProcessIPCEvents>(event: K, listener: (...args: ChildProcessIPCEvents[K]) => void): this;
  removeListener<E extends string | symbol>(event: OtherEvent<E, ChildProcessIPCEvents>, listener: (...args: any[]) => void): this;
  emit<K extends keyof ChildProcessIPCEvents>(event: K, ...args: ChildProcessIPCEvents[K]): boolean;
  emit<E extends string | symbol>(event: OtherEvent<E, ChildProcessIPCEvents>, ...args: any[]): boolean;
}

/**
 * `child_process.fork()` with a pipewrap channel (a socketpair whose child
 * end is the `'ipc'` stdio entry, announced through `NODE_CHANNEL_FD`), so a
 * plain Node child just uses `process.send` / `process.on('message')`.
 */
export declare function fork(modulePath: string | URL, options?: ForkOptions): ChildProcessIPC;
export declare function fork(modulePath: string | URL, args?: readonly string[], options?: ForkOptions): ChildProcessIPC;

/**
 * Opens the IPC channel on an inherited fd (e.g. in a child whose Node
 * runtime did not open it). Throws `ERR_INVALID_ARG_TYPE` for a bad fd,
 * `ERR_INVALID_ARG_VALUE` for bad options, or an `open` system error.
 */
export declare function openChannel(fd: number, options?: ChannelOptions): IPCChannel;

// ---------------------------------------------------------------------------
// The binding (Node's pipe_wrap + stream_wrap contract)

/** The raw handle class (see ../index.d.ts). */
export declare const Pipe: typeof NativePipe;
export type Pipe = NativePipe;

/**
 * A connect request for `pipe.connect(req, path)`. Its `oncomplete` runs on
 * a later loop turn (always asynchronously), with `this` = the request.
 */
export declare class PipeConnectWrap {
  oncomplete?:
    | ((this: PipeConnectWrap, status: number, handle: NativePipe, req: PipeConnectWrap, readable: boolean, writable: boolean) => void)
    | null;
  /** Conventionally the path being connected to (the net layer sets it). */
  address?: string;
  [key: string]: unknown;
}

/**
 * A write request for `pipe.write*()`/`writev()`/`sendFds()`. `oncomplete`
 * runs only for writes that went asynchronous
 * (`streamBaseState[kLastWriteWasAsync] !== 0`).
 */
export declare class WriteWrap {
  oncomplete?: ((this: WriteWrap, status: number, handle: NativePipe, error: string | undefined) => void) | null;
  /** Set by the binding to the sent handle on IPC writes that carry one. */
  handle?: unknown;
  /** Error detail of a failed write, if any. */
  error?: string;
  [key: string]: unknown;
}

/** A shutdown request for `pipe.shutdown(req)` (1: nothing to wait for; ENOTCONN: not connected). */
export declare class ShutdownWrap {
  oncomplete: ((this: ShutdownWrap, status: number, handle: NativePipe, error: undefined) => void) | null;
  callback: ((...args: any[]) => void) | null;
  handle: NativePipe | null;
  [key: string]: unknown;
}

/** `constants` of the binding: Pipe types and `fchmod` flags. */
export interface PipeConstants {
  readonly SOCKET: 0;
  readonly SERVER: 1;
  readonly IPC: 2;
  readonly UV_READABLE: 1;
  readonly UV_WRITABLE: 2;
}

/** Index in `streamBaseState`: bytes read by the current `onread`, or a negative errno (EOF is -4095). */
export declare const kReadBytesOrError: 0;
/** Index in `streamBaseState`: offset of the data in `onread`'s ArrayBuffer. */
export declare const kArrayBufferOffset: 1;
/** Index in `streamBaseState`: bytes the last write dispatched. */
export declare const kBytesWritten: 2;
/** Index in `streamBaseState`: non-zero if the last write went asynchronous (its `oncomplete` will run). */
export declare const kLastWriteWasAsync: 3;
/** Shared with this thread's Pipes: written before every `onread` and after every write. */
export declare const streamBaseState: Int32Array;
export declare const constants: PipeConstants;

/**
 * `process.binding('pipe_wrap')` merged with `process.binding('stream_wrap')`
 * (with `PIPEWRAP_BINDING=node`, the first five members are Node's own).
 */
export interface Binding {
  Pipe: typeof NativePipe;
  PipeConnectWrap: typeof PipeConnectWrap;
  WriteWrap: typeof WriteWrap;
  ShutdownWrap: typeof ShutdownWrap;
  streamBaseState: Int32Array;
  kReadBytesOrError: 0;
  kArrayBufferOffset: 1;
  kBytesWritten: 2;
  kLastWriteWasAsync: 3;
  constants: PipeConstants;
  /** pipewrap's own native module (`socketpair()`, `probeUnixSocket()`, ...), always the addon. */
  native: typeof nativeModule;
}

export declare const binding: Binding;

// Only the declarations marked `export` above are part of the module (a
// declaration file otherwise exports every top-level declaration).
export {};

'use strict';
// A plain Node child for the framework projects: echoes a message, and
// answers with the type of a handle sent with it.
process.on('message', (msg, handle) => {
  process.send({ echo: msg, handle: handle ? handle.constructor.name : null });
  if (handle && typeof handle.close === 'function') handle.close();
  process.disconnect();
});

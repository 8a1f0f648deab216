// The broker of the agent footprint benchmark where no mosquitto is installed: aedes, in its own
// process (so its memory and CPU are not the measured processes'), on a loopback port it prints.
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
console.log(JSON.stringify({ port: server.address().port }));

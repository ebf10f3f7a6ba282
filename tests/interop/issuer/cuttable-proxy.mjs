// A TCP proxy in front of a service that can drop every connection through it and refuse new
// ones for a while, as a network that goes away and comes back does.
import net from "node:net";

export async function cuttableProxy(target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  let refusing = false;
  const proxy = {
    url: "",
    refused: 0,
    /** Drop every connection open now. */
    cut() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    /** Refuse (close at once) every new connection while `on`. */
    refuse(on) {
      refusing = on;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
  const server = net.createServer((client) => {
    if (refusing) {
      proxy.refused += 1;
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(port), hostname);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", drop);
      socket.on("close", drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  return proxy;
}

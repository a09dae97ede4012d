// The hello workflow on Restate: one durable step (`ctx.run`) in a workflow
// handler, as the Chronicle benchmark's workflow runs one activity.
import * as restate from "@restatedev/restate-sdk";

// The SDK uses Promise.withResolvers (Node 22); Node 20 lacks it.
Promise.withResolvers ??= function () {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const hello = restate.workflow({
  name: "hello",
  handlers: {
    run: async (ctx, name) => ctx.run("greet", async () => `Hello, ${name}!`),
  },
});

restate.endpoint().bind(hello).listen(Number(process.env.PORT ?? 9080));

# meshguard: `docker build -t meshguard .`, then `docker run meshguard` runs `meshguard serve`.

# Build stage: compiles TypeScript and the re2 native addon (node-gyp needs python3, make and g++).
FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Pruning here, rather than a fresh `npm ci --omit=dev` in the runtime stage, reuses the re2 addon
# compiled above: the runtime image needs no compiler, and no dev dependency is left behind.
RUN npm run build \
 && npm prune --omit=dev

# Runtime stage: the same base (glibc and Node ABI match the compiled addon), production files only.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# package.json is needed at runtime: it makes dist/*.js ES modules ("type": "module").
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY policies ./policies
# Numeric, so Kubernetes can verify runAsNonRoot without resolving a user name.
USER 10001:10001
EXPOSE 8443 9090
# V8 grows the young generation to 3 x 32 MB on a large node, and the first list of a big cluster
# makes it do so; 8 MB semi-spaces keep serve within its memory target (npm run bench:scale,
# bench/results/README.md, which starts meshguard with these flags).
ENTRYPOINT ["node", "--max-semi-space-size=8", "dist/cli.js"]
CMD ["serve"]

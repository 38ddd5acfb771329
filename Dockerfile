# Switchboard gateway image: compiled to JavaScript in a build stage (about 45 MiB less resident memory
# than running the TypeScript sources through Node's type stripper), production dependencies only.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY schema ./schema
COPY resolvers ./resolvers
COPY src ./src
COPY scripts ./scripts
RUN npm run build
# The web console and GraphiQL, built once here: the image serves them with no network access.
COPY console ./console
RUN npm run build:console

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
# glibc's mmap threshold fixed at 32 KiB: buffers above it (socket reads, stream chunks, large bodies) get their
# own mapping and go back to the system when freed, instead of leaving holes in the heap that stay resident
# (README, Node flags).
# The same setting as `npm run start:dist`.
ENV MALLOC_MMAP_THRESHOLD_=32768
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# The SDL is read at start-up from schema/ beside dist/.
COPY schema ./schema
COPY --from=build /app/dist ./dist
COPY --from=build /app/console/dist ./console/dist
USER node
EXPOSE 4000
ENV HOST=0.0.0.0 PORT=4000
HEALTHCHECK --interval=10s --timeout=2s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# V8's young generation fixed at two 8 MiB semi-spaces (Node 24 lets it grow to 64 MiB under load): less RSS and
# shorter scavenges, and light traffic after the GC at start does not run in a shrunken one. The old generation
# collected when it reaches 1.5 times what the last full GC left live: on a host without a memory limit V8 would
# let it reach 4 times (README, Node flags). V8's efficiency mode off: in it a function waits for 15,000 calls
# before TurboFan optimizes it, so a fresh gateway would serve its first tens of thousands of requests on slower
# code. The same flags as `npm run start:dist`.
CMD ["node", "--max-semi-space-size=8", "--min-semi-space-size=8", "--heap-growing-percent=50", "--no-efficiency-mode", "dist/gateway/cli.js", "start"]

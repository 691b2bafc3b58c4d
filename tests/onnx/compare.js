// Runs an exported model with onnxruntime on raw images and compares its logits with nash's
// (tests/onnx/nash_logits.c writes both files). Prints the worst differences; exits 1 when a
// logit differs by more than TOL relative to its image's largest logit magnitude.
// Usage: node compare.js MODEL.onnx IMAGES.u8 LOGITS.f32 C H W TOL
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
	const [model, imagesPath, logitsPath, C, H, W, tolArg] = process.argv.slice(2);
	const [c, h, w, tol] = [+C, +H, +W, +tolArg];
	const pixels = fs.readFileSync(imagesPath); // uint8 [n, c, h, w]
	const ref = new Float32Array(new Uint8Array(fs.readFileSync(logitsPath)).buffer); // [n, K]
	const n = pixels.length / (c * h * w);
	const K = ref.length / n;
	const session = await ort.InferenceSession.create(model);
	const image = new ort.Tensor('float32', Float32Array.from(pixels), [n, c, h, w]);
	const { logits } = await session.run({ image });
	if (logits.dims[0] !== n || logits.dims[1] !== K)
		throw new Error(`logits are [${logits.dims}], nash's [${n},${K}]`);
	let worstRel = 0, worstAbs = 0, agree = 0;
	for (let i = 0; i < n; i++) {
		let scale = 0, argNash = 0, argOrt = 0;
		for (let k = 0; k < K; k++) {
			scale = Math.max(scale, Math.abs(ref[i * K + k]));
			if (ref[i * K + k] > ref[i * K + argNash]) argNash = k;
			if (logits.data[i * K + k] > logits.data[i * K + argOrt]) argOrt = k;
		}
		agree += argNash === argOrt;
		for (let k = 0; k < K; k++) {
			const d = Math.abs(logits.data[i * K + k] - ref[i * K + k]);
			worstAbs = Math.max(worstAbs, d);
			worstRel = Math.max(worstRel, d / Math.max(scale, 1e-30));
		}
	}
	console.log(`images=${n} classes=${K} worst_abs=${worstAbs.toExponential(2)} ` +
		`worst_rel=${worstRel.toExponential(2)} same_class=${agree}/${n}`);
	process.exit(worstRel <= tol ? 0 : 1);
}
main().catch((e) => { console.error(`compare.js: ${e.message}`); process.exit(1); });

// Runs an exported model with onnxruntime on raw images and compares its output (logits, or
// with --tta probabilities) with nash's (tests/onnx/nash_logits.c writes both files). Prints
// the worst differences; exits 1 when a value differs by more than TOL relative to its image's
// largest magnitude. Given the labels (uint8 [n]), also prints the accuracy of each one's
// argmax (the first maximum wins, as in nash).
// Usage: node compare.js MODEL.onnx IMAGES.u8 LOGITS.f32 C H W TOL [LABELS.u8]
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
	const [model, imagesPath, logitsPath, C, H, W, tolArg, labelsPath] = process.argv.slice(2);
	const [c, h, w, tol] = [+C, +H, +W, +tolArg];
	const pixels = fs.readFileSync(imagesPath); // uint8 [n, c, h, w]
	const ref = new Float32Array(new Uint8Array(fs.readFileSync(logitsPath)).buffer); // [n, K]
	const n = pixels.length / (c * h * w);
	const K = ref.length / n;
	const session = await ort.InferenceSession.create(model);
	const image = new ort.Tensor('float32', Float32Array.from(pixels), [n, c, h, w]);
	const name = session.outputNames[0]; // logits, or probabilities with TTA
	const logits = (await session.run({ image }))[name];
	if (logits.dims[0] !== n || logits.dims[1] !== K)
		throw new Error(`${name} are [${logits.dims}], nash's [${n},${K}]`);
	const labels = labelsPath ? fs.readFileSync(labelsPath) : null;
	let worstRel = 0, worstAbs = 0, agree = 0, rightNash = 0, rightOrt = 0;
	for (let i = 0; i < n; i++) {
		let scale = 0, argNash = 0, argOrt = 0;
		for (let k = 0; k < K; k++) {
			scale = Math.max(scale, Math.abs(ref[i * K + k]));
			if (ref[i * K + k] > ref[i * K + argNash]) argNash = k;
			if (logits.data[i * K + k] > logits.data[i * K + argOrt]) argOrt = k;
		}
		agree += argNash === argOrt;
		if (labels) {
			rightNash += argNash === labels[i];
			rightOrt += argOrt === labels[i];
		}
		for (let k = 0; k < K; k++) {
			const d = Math.abs(logits.data[i * K + k] - ref[i * K + k]);
			worstAbs = Math.max(worstAbs, d);
			worstRel = Math.max(worstRel, d / Math.max(scale, 1e-30));
		}
	}
	const accuracy = labels ? ` accuracy_onnx=${(rightOrt / n).toFixed(4)} accuracy_nash=${(rightNash / n).toFixed(4)}` : '';
	console.log(`${name}: images=${n} classes=${K} worst_abs=${worstAbs.toExponential(2)} ` +
		`worst_rel=${worstRel.toExponential(2)} same_class=${agree}/${n}${accuracy}`);
	process.exit(worstRel <= tol ? 0 : 1);
}
main().catch((e) => { console.error(`compare.js: ${e.message}`); process.exit(1); });

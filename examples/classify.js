// Classifies PNG and JPEG images with a network exported by `nash-export --onnx`, using
// onnxruntime and nothing of nash; prints one line per image: path, class, probability (softmax).
// A network exported with --tta outputs 'probabilities' (the mean softmax of the image's views)
// instead of 'logits': those are printed as they are.
// The PNG decoder below is the smallest honest one: 8-bit, not interlaced, grey, grey+alpha,
// RGB or RGBA; other PNGs are refused (convert them, or let `nash-data pack` read them). JPEGs
// are decoded by jpeg-js (npm). An image of another size than the network's (the metadata's
// nash.input, C,H,W) is resized to it as `nash-data pack --resize` does: Pillow's bilinear
// filter, widened when shrinking, horizontal pass first, 8-bit between the passes.
// The class names come from the model: `nash-export` writes them into its metadata as a JSON
// array under `nash.class_names` (docs/EXPORT.md), read here from the file itself, since
// onnxruntime-node gives no access to an ONNX model's metadata.
// Usage: node classify.js [--channels 1|3|4] [--classes A,B,...] MODEL.onnx IMAGE.png|IMAGE.jpg...
//   --channels: the model's image channels when they differ from the PNG's (grey 1, colour 3).
//   --classes: the class names in label order, for a model exported without them (a model
//   made before nash recorded them); without either, the label is printed.
// Needs onnxruntime-node and jpeg-js: `npm install onnxruntime-node jpeg-js`, or `make
// node-deps` in nash's clone and NODE_PATH=build/node/node_modules.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

// PNG -> { width, height, channels, pixels: Uint8Array [height, width, channels] }
function decodePng(path) {
	const b = fs.readFileSync(path);
	if (b.length < 8 || b.readUInt32BE(0) !== 0x89504e47) throw new Error(`${path}: not a PNG file`);
	let width, height, depth, type, interlace, idat = [];
	for (let p = 8; p + 8 <= b.length;) {
		const len = b.readUInt32BE(p), kind = b.toString('latin1', p + 4, p + 8), data = b.subarray(p + 8, p + 8 + len);
		if (kind === 'IHDR') [width, height, depth, type, interlace] = [data.readUInt32BE(0), data.readUInt32BE(4), data[8], data[9], data[12]];
		if (kind === 'IDAT') idat.push(data);
		if (kind === 'IEND') break;
		p += 12 + len;
	}
	const channels = { 0: 1, 4: 2, 2: 3, 6: 4 }[type];
	if (depth !== 8 || !channels || interlace) throw new Error(`${path}: only 8-bit, non-interlaced grey/RGB(A) PNGs`);
	const raw = zlib.inflateSync(Buffer.concat(idat)), stride = width * channels;
	const px = new Uint8Array(height * stride);
	for (let y = 0; y < height; y++) { // undo the per-row filters (PNG spec, section 9)
		const f = raw[y * (stride + 1)], src = raw.subarray(y * (stride + 1) + 1), row = y * stride;
		for (let x = 0; x < stride; x++) {
			const a = x >= channels ? px[row + x - channels] : 0, up = y ? px[row - stride + x] : 0;
			const c = x >= channels && y ? px[row - stride + x - channels] : 0;
			const pa = Math.abs(up - c), pb = Math.abs(a - c), pc = Math.abs(a + up - 2 * c);
			const pred = [0, a, up, (a + up) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? up : c][f];
			px[row + x] = (src[x] + pred) & 255;
		}
	}
	return { width, height, channels, pixels: px };
}

// JPEG -> the same form (jpeg-js: baseline and progressive; grey comes out as R = G = B)
function decodeJpeg(path) {
	const jpeg = require('jpeg-js');
	const { width, height, data } = jpeg.decode(fs.readFileSync(path), { useTArray: true, formatAsRGBA: true });
	return { width, height, channels: 4, pixels: data };
}

function decodeImage(path) {
	const b = fs.readFileSync(path);
	if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return decodeJpeg(path);
	return decodePng(path);
}

// One axis of Pillow's bilinear resize (lib/data/image.c, taps_make): for each output index,
// its first input index and weights summing to 1.
function taps(n, m) {
	const scale = n / m, filterscale = Math.max(scale, 1), support = filterscale, out = [];
	for (let o = 0; o < m; o++) {
		const center = (o + 0.5) * scale;
		const lo = Math.max(Math.trunc(center - support + 0.5), 0), hi = Math.min(Math.trunc(center + support + 0.5), n);
		let w = [], sum = 0;
		for (let x = lo; x < hi; x++) {
			const d = Math.abs((x - center + 0.5) / filterscale), k = d < 1 ? 1 - d : 0;
			w.push(k);
			sum += k;
		}
		if (sum > 0) w = w.map((k) => k / sum);
		out.push({ lo, w });
	}
	return out;
}

const clip8 = (v) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v + 0.5));

// planes [C, h, w] (Uint8Array) -> [C, oh, ow], as image_resize
function resize(planes, C, h, w, oh, ow) {
	const tx = taps(w, ow), ty = taps(h, oh), out = new Uint8Array(C * oh * ow), mid = new Uint8Array(h * ow);
	for (let c = 0; c < C; c++) {
		const src = c * h * w, dst = c * oh * ow;
		for (let y = 0; y < h; y++)
			for (let o = 0; o < ow; o++) {
				const { lo, w: k } = tx[o];
				let s = 0;
				for (let j = 0; j < k.length; j++) s += k[j] * planes[src + y * w + lo + j];
				mid[y * ow + o] = w === ow ? planes[src + y * w + lo] : clip8(s);
			}
		for (let o = 0; o < oh; o++)
			for (let x = 0; x < ow; x++) {
				const { lo, w: k } = ty[o];
				let s = 0;
				for (let j = 0; j < k.length; j++) s += k[j] * mid[(lo + j) * ow + x];
				out[dst + o * ow + x] = h === oh ? mid[o * ow + x] : clip8(s);
			}
	}
	return out;
}

// The metadata_props of an ONNX file (ModelProto field 14: StringStringEntryProto, key 1 and
// value 2) as { key: value }: protobuf's wire format, every other field skipped by its length.
function onnxMetadata(path) {
	const b = fs.readFileSync(path), props = {};
	const varint = (p) => { // [value, next position]; lengths fit a double
		let v = 0, scale = 1;
		for (;;) {
			if (p >= b.length) throw new Error(`${path}: truncated ONNX file`);
			const byte = b[p++];
			v += (byte & 127) * scale;
			scale *= 128;
			if (byte < 128) return [v, p];
		}
	};
	// the fields in b[start, end): calls f(field, start, end) for each length-delimited one
	const fields = (start, end, f) => {
		for (let p = start; p < end;) {
			let key, len;
			[key, p] = varint(p);
			const wire = key % 8, field = Math.floor(key / 8);
			if (wire === 0) [, p] = varint(p);
			else if (wire === 1) p += 8;
			else if (wire === 5) p += 4;
			else if (wire === 2) { [len, p] = varint(p); f(field, p, p + len); p += len; }
			else throw new Error(`${path}: not an ONNX file (wire type ${wire})`);
			if (p > end) throw new Error(`${path}: truncated ONNX file`);
		}
	};
	fields(0, b.length, (field, s, e) => {
		if (field !== 14) return;
		const kv = {};
		fields(s, e, (f, s2, e2) => { kv[f] = b.toString('utf8', s2, e2); });
		if (kv[1] !== undefined) props[kv[1]] = kv[2] ?? '';
	});
	return props;
}

// [H, W, n] -> float32 [1, C, OH, OW], pixels 0..255 as the model takes them, converted as
// `nash-data pack` converts: every pixel as RGBA (grey: R = G = B, no alpha: 255), then the
// first C channels, or for C = 1 the fixed-point luma (Pillow's, as nash-data's); then
// resized to OH x OW when the image has another size.
function toInput(img, C, OH, OW) {
	const { width: W, height: H, channels: n, pixels } = img;
	let planes = new Uint8Array(C * H * W);
	for (let i = 0; i < H * W; i++) {
		const p = pixels.subarray(i * n, i * n + n);
		const rgba = n >= 3 ? [p[0], p[1], p[2], n === 4 ? p[3] : 255] : [p[0], p[0], p[0], n === 2 ? p[1] : 255];
		if (C === 1) planes[i] = (rgba[0] * 19595 + rgba[1] * 38470 + rgba[2] * 7471 + 0x8000) >>> 16;
		else for (let c = 0; c < C; c++) planes[c * H * W + i] = rgba[c];
	}
	if (OH && OW && (OH !== H || OW !== W)) planes = resize(planes, C, H, W, OH, OW);
	else [OH, OW] = [H, W];
	return new ort.Tensor('float32', Float32Array.from(planes), [1, C, OH, OW]);
}

async function main() {
	const args = process.argv.slice(2);
	let C = 0; // the model's channels; 0: the image's own (1 for grey, 3 for colour)
	let classes = null;
	for (;;) {
		if (args[0] === '--channels') C = +args[1];
		else if (args[0] === '--classes') classes = args[1].split(',');
		else break;
		args.splice(0, 2);
	}
	const [model, ...images] = args;
	if (!images.length || ![0, 1, 3, 4].includes(C))
		throw new Error('usage: node classify.js [--channels 1|3|4] [--classes A,B,...] MODEL.onnx IMAGE.png|IMAGE.jpg...');
	const meta = onnxMetadata(model), names = meta['nash.class_names'];
	if (!classes && names !== undefined) classes = JSON.parse(names);
	// the network's image, C,H,W (a model exported before nash recorded it: the image's own)
	const [inC, inH, inW] = (meta['nash.input'] ?? '0,0,0').split(',').map(Number);
	if (!C) C = inC;
	const session = await ort.InferenceSession.create(model);
	for (const path of images) {
		const img = decodeImage(path);
		const outputs = await session.run({ image: toInput(img, C || (img.channels >= 3 ? 3 : 1), inH, inW) });
		const z = Array.from((outputs.logits ?? outputs.probabilities).data), mx = Math.max(...z), k = z.indexOf(mx);
		let p = z[k];
		if (outputs.logits) {
			const sum = z.reduce((s, v) => s + Math.exp(v - mx), 0);
			p = 1 / sum;
		}
		console.log(`${path}\t${classes?.[k] ?? k}\t${p.toFixed(4)}`);
	}
}
main().catch((e) => { console.error(`classify.js: ${e.message}`); process.exit(1); });

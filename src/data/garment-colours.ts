/**
 * Named garment colours of the demo dataset, picked to stay distinguishable after JPEG and a
 * resize to 224 px (no white: a white garment would vanish on the white canvas).
 */
export interface NamedColour {
  name: string;
  rgb: readonly [number, number, number];
}

export const GARMENT_COLOURS: readonly NamedColour[] = [
  { name: 'black', rgb: [28, 28, 30] },
  { name: 'navy', rgb: [24, 38, 110] },
  { name: 'blue', rgb: [40, 110, 220] },
  { name: 'grey', rgb: [128, 128, 128] },
  { name: 'red', rgb: [210, 30, 35] },
  { name: 'pink', rgb: [240, 120, 180] },
  { name: 'brown', rgb: [120, 72, 36] },
  { name: 'beige', rgb: [215, 190, 140] },
  { name: 'green', rgb: [30, 150, 60] },
  { name: 'purple', rgb: [120, 50, 160] },
  { name: 'orange', rgb: [245, 130, 20] },
  { name: 'yellow', rgb: [235, 205, 20] },
  { name: 'teal', rgb: [0, 140, 140] },
  { name: 'maroon', rgb: [110, 20, 40] },
];

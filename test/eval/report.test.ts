import { describe, expect, it } from 'vitest'
import { lineChart, niceTicks, tickLabel } from '../../src/eval/report.js'

describe('report charts', () => {
  it('puts ticks on round numbers and never writes them in exponent form', () => {
    expect(niceTicks(0, 237)).toEqual([0, 50, 100, 150, 200])
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.25, 0.5, 0.75, 1])
    expect(niceTicks(0, 3.54, 4)).toEqual([0, 1, 2, 3])
    expect(tickLabel(1440)).toBe('1,440')
    expect(tickLabel(0.30000000000000004)).toBe('0.3')
  })

  it('draws silent periods as gaps, and the legend above the plot', () => {
    const svg = lineChart(
      'Score over time: h1',
      [
        {
          points: [
            [0, 0.1],
            [1, 0.2],
            [2, 0.3],
            [10, 0.4],
            [11, 0.5],
          ],
          color: '#00f',
          label: 'score',
          gaps: true,
        },
      ],
      { xLabel: 'hours', yLabel: 'score', yRange: [0, 1], gapOver: 3 },
    )
    const d = /<path d="([^"]+)"/.exec(svg)![1]!
    expect(d.match(/M/g)).toHaveLength(2) // a new stroke after the 8-hour silence
    expect(svg).toContain('>score</text>')
    expect(svg).not.toMatch(/e\+\d/)
  })
})

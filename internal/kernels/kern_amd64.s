//go:build amd64 && !noasm && !gccgo

#include "textflag.h"

// KERNARGS loads the micro-kernels' arguments: CX = kc, SI = a, DX = b,
// DI = c, R8 = ldc in bytes, R9 = bias, R10 = flags.
#define KERNARGS \
	MOVQ kc+0(FP), CX \
	MOVQ a+8(FP), SI \
	MOVQ b+16(FP), DX \
	MOVQ c+24(FP), DI \
	MOVQ ldc+32(FP), R8 \
	SHLQ $2, R8 \
	MOVQ bias+40(FP), R9 \
	MOVQ flags+48(FP), R10

// Row r of a short kernel, its accumulators lo and hi: BIASROW starts them
// at bias[r], FMAROW adds A[r]·B for one k step (bc: a free register),
// LOADROW adds C's row at R11 and advances R11, STOREROW stores to DI and
// advances DI.
#define BIASROW(off, lo, hi) \
	VBROADCASTSS off(R9), lo \
	VMOVAPS      lo, hi

#define FMAROW(off, bc, lo, hi) \
	VBROADCASTSS off(SI), bc \
	VFMADD231PS  Y12, bc, lo \
	VFMADD231PS  Y13, bc, hi

#define LOADROW(lo, hi) \
	VADDPS 0(R11), lo, lo \
	VADDPS 32(R11), hi, hi \
	ADDQ   R8, R11

#define STOREROW(lo, hi) \
	VMOVUPS lo, 0(DI) \
	VMOVUPS hi, 32(DI) \
	ADDQ    R8, DI

// func kern6x16AVX2(kc int, a, b, c *float32, ldc int, bias *float32, flags int)
//
// Register tile: Y0..Y11 hold the 6x16 block of C (row r in Y(2r), Y(2r+1)).
// Per k step: two 8-wide loads of the packed B row, six broadcasts of the
// packed A column, twelve FMAs. See kern_generic.go:kern6x16Go for the loop
// this computes.
TEXT ·kern6x16AVX2(SB), NOSPLIT, $0-56
	KERNARGS

	TESTQ R9, R9
	JZ    zeroacc
	VBROADCASTSS 0(R9), Y0
	VMOVAPS      Y0, Y1
	VBROADCASTSS 4(R9), Y2
	VMOVAPS      Y2, Y3
	VBROADCASTSS 8(R9), Y4
	VMOVAPS      Y4, Y5
	VBROADCASTSS 12(R9), Y6
	VMOVAPS      Y6, Y7
	VBROADCASTSS 16(R9), Y8
	VMOVAPS      Y8, Y9
	VBROADCASTSS 20(R9), Y10
	VMOVAPS      Y10, Y11
	JMP          kstart

zeroacc:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

kstart:
	MOVQ CX, R11
	SHRQ $2, R11
	JZ   ktail

kloop4:
	// step 0
	VMOVUPS      0(DX), Y12
	VMOVUPS      32(DX), Y13
	VBROADCASTSS 0(SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS 4(SI), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS 8(SI), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS 12(SI), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS 16(SI), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS 20(SI), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11

	// step 1
	VMOVUPS      64(DX), Y12
	VMOVUPS      96(DX), Y13
	VBROADCASTSS 24(SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS 28(SI), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS 32(SI), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS 36(SI), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS 40(SI), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS 44(SI), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11

	// step 2
	VMOVUPS      128(DX), Y12
	VMOVUPS      160(DX), Y13
	VBROADCASTSS 48(SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS 52(SI), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS 56(SI), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS 60(SI), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS 64(SI), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS 68(SI), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11

	// step 3
	VMOVUPS      192(DX), Y12
	VMOVUPS      224(DX), Y13
	VBROADCASTSS 72(SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS 76(SI), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS 80(SI), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS 84(SI), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS 88(SI), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS 92(SI), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11

	ADDQ $96, SI
	ADDQ $256, DX
	DECQ R11
	JNZ  kloop4

ktail:
	ANDQ $3, CX
	JZ   kdone

kloop1:
	VMOVUPS      0(DX), Y12
	VMOVUPS      32(DX), Y13
	VBROADCASTSS 0(SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS 4(SI), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS 8(SI), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS 12(SI), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS 16(SI), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS 20(SI), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	ADDQ         $24, SI
	ADDQ         $64, DX
	DECQ         CX
	JNZ          kloop1

kdone:
	// flags bit 0: add the existing C.
	TESTQ $1, R10
	JZ    noload
	MOVQ  DI, R11
	VADDPS 0(R11), Y0, Y0
	VADDPS 32(R11), Y1, Y1
	ADDQ   R8, R11
	VADDPS 0(R11), Y2, Y2
	VADDPS 32(R11), Y3, Y3
	ADDQ   R8, R11
	VADDPS 0(R11), Y4, Y4
	VADDPS 32(R11), Y5, Y5
	ADDQ   R8, R11
	VADDPS 0(R11), Y6, Y6
	VADDPS 32(R11), Y7, Y7
	ADDQ   R8, R11
	VADDPS 0(R11), Y8, Y8
	VADDPS 32(R11), Y9, Y9
	ADDQ   R8, R11
	VADDPS 0(R11), Y10, Y10
	VADDPS 32(R11), Y11, Y11

noload:
	// flags bit 1: clamp at zero (ReLU); max(0, x) keeps a NaN x.
	TESTQ $2, R10
	JZ    norelu
	VXORPS Y12, Y12, Y12
	VMAXPS Y0, Y12, Y0
	VMAXPS Y1, Y12, Y1
	VMAXPS Y2, Y12, Y2
	VMAXPS Y3, Y12, Y3
	VMAXPS Y4, Y12, Y4
	VMAXPS Y5, Y12, Y5
	VMAXPS Y6, Y12, Y6
	VMAXPS Y7, Y12, Y7
	VMAXPS Y8, Y12, Y8
	VMAXPS Y9, Y12, Y9
	VMAXPS Y10, Y12, Y10
	VMAXPS Y11, Y12, Y11

norelu:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R8, DI
	VMOVUPS Y2, 0(DI)
	VMOVUPS Y3, 32(DI)
	ADDQ    R8, DI
	VMOVUPS Y4, 0(DI)
	VMOVUPS Y5, 32(DI)
	ADDQ    R8, DI
	VMOVUPS Y6, 0(DI)
	VMOVUPS Y7, 32(DI)
	ADDQ    R8, DI
	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 32(DI)
	ADDQ    R8, DI
	VMOVUPS Y10, 0(DI)
	VMOVUPS Y11, 32(DI)
	VZEROUPPER
	RET

// func packPre16AVX2(kc int, src *float32, ld int, scale, shift, dst *float32)
//
// For kc rows p: dst[p*16+j] = max(src[p*ld+j]*scale[p] + shift[p], 0),
// j < 16 (multiply then add, unfused, as Go computes it). See
// kern_generic.go:packPre16Go.
TEXT ·packPre16AVX2(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ scale+24(FP), R9
	MOVQ shift+32(FP), R10
	MOVQ dst+40(FP), DI
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ    predone

preloop:
	VBROADCASTSS 0(R9), Y2
	VBROADCASTSS 0(R10), Y3
	VMULPS       0(SI), Y2, Y0
	VMULPS       32(SI), Y2, Y1
	VADDPS       Y3, Y0, Y0
	VADDPS       Y3, Y1, Y1
	VMAXPS       Y15, Y0, Y0
	VMAXPS       Y15, Y1, Y1
	VMOVUPS      Y0, 0(DI)
	VMOVUPS      Y1, 32(DI)
	ADDQ         R8, SI
	ADDQ         $4, R9
	ADDQ         $4, R10
	ADDQ         $64, DI
	DECQ         CX
	JNZ          preloop

predone:
	VZEROUPPER
	RET

// func winoIn8AVX2(x *float32, ldx int, v *float32, vs int)
//
// winoIn8Go for eight tiles in one pass: the rows of Bᵀ·d are formed from
// the four input rows (columns 0..17 as four overlapping vectors), split into
// even and odd columns (one per tile and patch column), then combined by B.
TEXT ·winoIn8AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), R8
	SHLQ $2, R8
	MOVQ v+16(FP), DI
	MOVQ vs+24(FP), R9
	SHLQ $2, R9
	LEAQ (SI)(R8*1), DX  // row 1
	LEAQ (SI)(R8*2), R10 // row 2
	LEAQ (DX)(R8*2), R11 // row 3

// WINOROW leaves one row of Bᵀ·d, columns 0-7, 8-15, 2-9 and 10-17, in
// Y0-Y3: ra OP rb.
#define WINOROW(ra, rb, OP) \
	VMOVUPS 0(ra), Y0 \
	OP      0(rb), Y0, Y0 \
	VMOVUPS 32(ra), Y1 \
	OP      32(rb), Y1, Y1 \
	VMOVUPS 8(ra), Y2 \
	OP      8(rb), Y2, Y2 \
	VMOVUPS 40(ra), Y3 \
	OP      40(rb), Y3, Y3

// WINOCOLS applies ·B to the row in Y0-Y3 and stores V's four entries of it,
// advancing DI by four matrices.
#define WINOCOLS \
	VSHUFPS $0x88, Y1, Y0, Y4 \
	VSHUFPS $0xDD, Y1, Y0, Y5 \
	VSHUFPS $0x88, Y3, Y2, Y6 \
	VSHUFPS $0xDD, Y3, Y2, Y7 \
	VPERMPD $0xD8, Y4, Y4 \
	VPERMPD $0xD8, Y5, Y5 \
	VPERMPD $0xD8, Y6, Y6 \
	VPERMPD $0xD8, Y7, Y7 \
	VSUBPS  Y6, Y4, Y8 \
	VADDPS  Y6, Y5, Y9 \
	VSUBPS  Y5, Y6, Y10 \
	VSUBPS  Y7, Y5, Y11 \
	VMOVUPS Y8, (DI) \
	ADDQ    R9, DI \
	VMOVUPS Y9, (DI) \
	ADDQ    R9, DI \
	VMOVUPS Y10, (DI) \
	ADDQ    R9, DI \
	VMOVUPS Y11, (DI) \
	ADDQ    R9, DI

	WINOROW(SI, R10, VSUBPS)  // d0 - d2
	WINOCOLS
	WINOROW(DX, R10, VADDPS)  // d1 + d2
	WINOCOLS
	WINOROW(R10, DX, VSUBPS)  // d2 - d1
	WINOCOLS
	WINOROW(DX, R11, VSUBPS)  // d1 - d3
	WINOCOLS
	VZEROUPPER
	RET

// func winoOut8AVX2(m *float32, ms int, bias *float32, relu bool, dst0, dst1 *float32)
//
// winoOut8Go for eight tiles in one pass, with the same order of additions.
TEXT ·winoOut8AVX2(SB), NOSPLIT, $0-48
	MOVQ    m+0(FP), SI
	MOVQ    ms+8(FP), R8
	SHLQ    $2, R8
	MOVQ    bias+16(FP), AX
	MOVBLZX relu+24(FP), BX
	MOVQ    dst0+32(FP), DI
	MOVQ    dst1+40(FP), DX
	LEAQ    (R8)(R8*2), R9   // 3·ms
	LEAQ    (SI)(R8*4), R10  // ξ = 4
	LEAQ    (R10)(R8*4), R11 // ξ = 8
	LEAQ    (R11)(R8*4), R12 // ξ = 12

// WINOAT leaves s0k = m0k + m1k + m2k in s0 and s1k = m1k - m2k - m3k in s1
// for column k, m0k..m3k at the addresses m0..m3.
#define WINOAT(m0, m1, m2, m3, s0, s1) \
	VMOVUPS m1, s1 \
	VMOVUPS m2, Y12 \
	VADDPS  m0, s1, s0 \
	VADDPS  Y12, s0, s0 \
	VSUBPS  Y12, s1, s1 \
	VSUBPS  m3, s1, s1

	WINOAT((SI), (R10), (R11), (R12), Y0, Y1)
	WINOAT((SI)(R8*1), (R10)(R8*1), (R11)(R8*1), (R12)(R8*1), Y2, Y3)
	WINOAT((SI)(R8*2), (R10)(R8*2), (R11)(R8*2), (R12)(R8*2), Y4, Y5)
	WINOAT((SI)(R9*1), (R10)(R9*1), (R11)(R9*1), (R12)(R9*1), Y6, Y7)

	VBROADCASTSS (AX), Y15
	VADDPS Y0, Y15, Y8 // y00 = b + s00 + s01 + s02
	VADDPS Y2, Y8, Y8
	VADDPS Y4, Y8, Y8
	VADDPS Y2, Y15, Y9 // y01 = b + s01 - s02 - s03
	VSUBPS Y4, Y9, Y9
	VSUBPS Y6, Y9, Y9
	VADDPS Y1, Y15, Y10 // y10 = b + s10 + s11 + s12
	VADDPS Y3, Y10, Y10
	VADDPS Y5, Y10, Y10
	VADDPS Y3, Y15, Y11 // y11 = b + s11 - s12 - s13
	VSUBPS Y5, Y11, Y11
	VSUBPS Y7, Y11, Y11

	TESTQ BX, BX
	JZ    winostore
	VXORPS Y12, Y12, Y12 // max(0, x) keeps a NaN x, as max does in Go
	VMAXPS Y8, Y12, Y8
	VMAXPS Y9, Y12, Y9
	VMAXPS Y10, Y12, Y10
	VMAXPS Y11, Y12, Y11

winostore:
	// Interleave each row's two columns: tile t's pair at 2t.
	VUNPCKLPS  Y9, Y8, Y12
	VUNPCKHPS  Y9, Y8, Y13
	VPERM2F128 $0x20, Y13, Y12, Y14
	VPERM2F128 $0x31, Y13, Y12, Y15
	VMOVUPS    Y14, 0(DI)
	VMOVUPS    Y15, 32(DI)
	VUNPCKLPS  Y11, Y10, Y12
	VUNPCKHPS  Y11, Y10, Y13
	VPERM2F128 $0x20, Y13, Y12, Y14
	VPERM2F128 $0x31, Y13, Y12, Y15
	VMOVUPS    Y14, 0(DX)
	VMOVUPS    Y15, 32(DX)
	VZEROUPPER
	RET

// func gather2x16AVX2(dst, src *float32)
//
// dst[j] = src[2j] for j < 16: the even values of four vectors, split by
// VSHUFPS within lanes and put in order by VPERMPD.
TEXT ·gather2x16AVX2(SB), NOSPLIT, $0-16
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VSHUFPS $0x88, Y1, Y0, Y4
	VSHUFPS $0x88, Y3, Y2, Y5
	VPERMPD $0xD8, Y4, Y4
	VPERMPD $0xD8, Y5, Y5
	VMOVUPS Y4, 0(DI)
	VMOVUPS Y5, 32(DI)
	VZEROUPPER
	RET

// func kern4x16AVX2(kc int, a, b, c *float32, ldc int, bias *float32, flags int)
//
// kern6x16AVX2 for the first 4 rows of the A panel only (the last panel
// of an M that is not a multiple of 6): Y0..Y7 hold the 4x16 block, and
// C's other rows are not read or written.
TEXT ·kern4x16AVX2(SB), NOSPLIT, $0-56
	KERNARGS
	TESTQ R9, R9
	JZ    zeroacc4
	BIASROW(0, Y0, Y1)
	BIASROW(4, Y2, Y3)
	BIASROW(8, Y4, Y5)
	BIASROW(12, Y6, Y7)
	JMP kstart4

zeroacc4:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

kstart4:
	TESTQ CX, CX
	JZ    kdone4

kloop4:
	VMOVUPS 0(DX), Y12
	VMOVUPS 32(DX), Y13
	FMAROW(0, Y14, Y0, Y1)
	FMAROW(4, Y15, Y2, Y3)
	FMAROW(8, Y14, Y4, Y5)
	FMAROW(12, Y15, Y6, Y7)
	ADDQ $24, SI
	ADDQ $64, DX
	DECQ CX
	JNZ  kloop4

kdone4:
	TESTQ $1, R10
	JZ    noload4
	MOVQ  DI, R11
	LOADROW(Y0, Y1)
	LOADROW(Y2, Y3)
	LOADROW(Y4, Y5)
	LOADROW(Y6, Y7)

noload4:
	TESTQ $2, R10
	JZ    norelu4
	VXORPS Y12, Y12, Y12
	VMAXPS Y0, Y12, Y0
	VMAXPS Y1, Y12, Y1
	VMAXPS Y2, Y12, Y2
	VMAXPS Y3, Y12, Y3
	VMAXPS Y4, Y12, Y4
	VMAXPS Y5, Y12, Y5
	VMAXPS Y6, Y12, Y6
	VMAXPS Y7, Y12, Y7

norelu4:
	STOREROW(Y0, Y1)
	STOREROW(Y2, Y3)
	STOREROW(Y4, Y5)
	STOREROW(Y6, Y7)
	VZEROUPPER
	RET

// func kern2x16AVX2(kc int, a, b, c *float32, ldc int, bias *float32, flags int)
//
// kern6x16AVX2 for the first 2 rows of the A panel only (the last panel
// of an M that is not a multiple of 6): Y0..Y3 hold the 2x16 block, and
// C's other rows are not read or written.
TEXT ·kern2x16AVX2(SB), NOSPLIT, $0-56
	KERNARGS
	TESTQ R9, R9
	JZ    zeroacc2
	BIASROW(0, Y0, Y1)
	BIASROW(4, Y2, Y3)
	JMP kstart2

zeroacc2:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

kstart2:
	TESTQ CX, CX
	JZ    kdone2

kloop2:
	VMOVUPS 0(DX), Y12
	VMOVUPS 32(DX), Y13
	FMAROW(0, Y14, Y0, Y1)
	FMAROW(4, Y15, Y2, Y3)
	ADDQ $24, SI
	ADDQ $64, DX
	DECQ CX
	JNZ  kloop2

kdone2:
	TESTQ $1, R10
	JZ    noload2
	MOVQ  DI, R11
	LOADROW(Y0, Y1)
	LOADROW(Y2, Y3)

noload2:
	TESTQ $2, R10
	JZ    norelu2
	VXORPS Y12, Y12, Y12
	VMAXPS Y0, Y12, Y0
	VMAXPS Y1, Y12, Y1
	VMAXPS Y2, Y12, Y2
	VMAXPS Y3, Y12, Y3

norelu2:
	STOREROW(Y0, Y1)
	STOREROW(Y2, Y3)
	VZEROUPPER
	RET

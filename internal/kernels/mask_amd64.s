//go:build amd64 && !noasm && !gccgo

#include "textflag.h"

// func lessEqual32AVX2(x *float32, n int, thr float32, allow *bool, mask *uint32)
//
// Per iteration: 32 floats compared with thr (VCMPPS GE_OS, so NaN gives
// false), the four 8-bit sign masks packed into one 32-bit word; when allow is
// not nil, 32 bools compared with zero (VPCMPEQB) clear the disallowed bits.
// n is a multiple of 32. See mask.go:lessEqual32Go for the loop this computes.
TEXT ·lessEqual32AVX2(SB), NOSPLIT, $0-40
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	SHRQ         $5, CX
	VBROADCASTSS thr+16(FP), Y15
	MOVQ         allow+24(FP), DX
	MOVQ         mask+32(FP), DI
	TESTQ        CX, CX
	JZ           done
	VPXOR        Y14, Y14, Y14
	TESTQ        DX, DX
	JNZ          loopallow

loop:
	VCMPPS    $13, 0(SI), Y15, Y0
	VCMPPS    $13, 32(SI), Y15, Y1
	VCMPPS    $13, 64(SI), Y15, Y2
	VCMPPS    $13, 96(SI), Y15, Y3
	VMOVMSKPS Y0, AX
	VMOVMSKPS Y1, BX
	VMOVMSKPS Y2, R8
	VMOVMSKPS Y3, R9
	SHLL      $8, BX
	SHLL      $16, R8
	SHLL      $24, R9
	ORL       BX, AX
	ORL       R9, R8
	ORL       R8, AX
	MOVL      AX, 0(DI)
	ADDQ      $128, SI
	ADDQ      $4, DI
	DECQ      CX
	JNZ       loop
	JMP       done

loopallow:
	VCMPPS    $13, 0(SI), Y15, Y0
	VCMPPS    $13, 32(SI), Y15, Y1
	VCMPPS    $13, 64(SI), Y15, Y2
	VCMPPS    $13, 96(SI), Y15, Y3
	VMOVDQU   0(DX), Y4
	VPCMPEQB  Y14, Y4, Y4
	VMOVMSKPS Y0, AX
	VMOVMSKPS Y1, BX
	VMOVMSKPS Y2, R8
	VMOVMSKPS Y3, R9
	VPMOVMSKB Y4, R10
	SHLL      $8, BX
	SHLL      $16, R8
	SHLL      $24, R9
	ORL       BX, AX
	ORL       R9, R8
	ORL       R8, AX
	NOTL      R10
	ANDL      R10, AX
	MOVL      AX, 0(DI)
	ADDQ      $128, SI
	ADDQ      $32, DX
	ADDQ      $4, DI
	DECQ      CX
	JNZ       loopallow

done:
	VZEROUPPER
	RET

DATA lanes<>+0(SB)/8, $0x0000000100000000
DATA lanes<>+8(SB)/8, $0x0000000300000002
DATA lanes<>+16(SB)/8, $0x0000000500000004
DATA lanes<>+24(SB)/8, $0x0000000700000006
GLOBL lanes<>(SB), RODATA|NOPTR, $32

DATA infs<>+0(SB)/4, $0x7f800000
GLOBL infs<>(SB), RODATA|NOPTR, $4

DATA eights<>+0(SB)/4, $8
GLOBL eights<>(SB), RODATA|NOPTR, $4

// func minIndex32AVX2(x *float32, n int, allow *bool, vals *[32]float32, idx *[32]int32)
//
// Y0..Y3 hold the running minima of lanes 0-7, 8-15, 16-23, 24-31, Y4..Y7
// their indices, Y8..Y11 the indices of the elements being loaded. An element
// replaces the lane minimum only when strictly smaller (VCMPPS LT_OS: NaN gives
// false), so each lane keeps its first minimum. Disallowed elements are
// replaced by +Inf first (VPMOVZXBD + VPSLLD 31 make a sign mask for
// VBLENDVPS). n is a multiple of 32. See mask.go:minIndex32Go.
TEXT ·minIndex32AVX2(SB), NOSPLIT, $0-40
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	SHRQ         $5, CX
	MOVQ         allow+16(FP), DX
	VBROADCASTSS infs<>(SB), Y13
	VPBROADCASTD eights<>(SB), Y12
	VMOVDQU      lanes<>(SB), Y8
	VPADDD       Y12, Y8, Y9
	VPADDD       Y12, Y9, Y10
	VPADDD       Y12, Y10, Y11
	VPSLLD       $2, Y12, Y12     // 32: the index step per iteration
	VMOVAPS      Y13, Y0
	VMOVAPS      Y13, Y1
	VMOVAPS      Y13, Y2
	VMOVAPS      Y13, Y3
	VPXOR        Y4, Y4, Y4
	VPXOR        Y5, Y5, Y5
	VPXOR        Y6, Y6, Y6
	VPXOR        Y7, Y7, Y7
	TESTQ        CX, CX
	JZ           store
	TESTQ        DX, DX
	JNZ          mloopallow

mloop:
	VMOVUPS   0(SI), Y14
	VCMPPS    $1, Y0, Y14, Y15
	VBLENDVPS Y15, Y14, Y0, Y0
	VBLENDVPS Y15, Y8, Y4, Y4
	VMOVUPS   32(SI), Y14
	VCMPPS    $1, Y1, Y14, Y15
	VBLENDVPS Y15, Y14, Y1, Y1
	VBLENDVPS Y15, Y9, Y5, Y5
	VMOVUPS   64(SI), Y14
	VCMPPS    $1, Y2, Y14, Y15
	VBLENDVPS Y15, Y14, Y2, Y2
	VBLENDVPS Y15, Y10, Y6, Y6
	VMOVUPS   96(SI), Y14
	VCMPPS    $1, Y3, Y14, Y15
	VBLENDVPS Y15, Y14, Y3, Y3
	VBLENDVPS Y15, Y11, Y7, Y7
	VPADDD    Y12, Y8, Y8
	VPADDD    Y12, Y9, Y9
	VPADDD    Y12, Y10, Y10
	VPADDD    Y12, Y11, Y11
	ADDQ      $128, SI
	DECQ      CX
	JNZ       mloop
	JMP       store

mloopallow:
	VPMOVZXBD 0(DX), Y15
	VPSLLD    $31, Y15, Y15
	VBLENDVPS Y15, 0(SI), Y13, Y14
	VCMPPS    $1, Y0, Y14, Y15
	VBLENDVPS Y15, Y14, Y0, Y0
	VBLENDVPS Y15, Y8, Y4, Y4
	VPMOVZXBD 8(DX), Y15
	VPSLLD    $31, Y15, Y15
	VBLENDVPS Y15, 32(SI), Y13, Y14
	VCMPPS    $1, Y1, Y14, Y15
	VBLENDVPS Y15, Y14, Y1, Y1
	VBLENDVPS Y15, Y9, Y5, Y5
	VPMOVZXBD 16(DX), Y15
	VPSLLD    $31, Y15, Y15
	VBLENDVPS Y15, 64(SI), Y13, Y14
	VCMPPS    $1, Y2, Y14, Y15
	VBLENDVPS Y15, Y14, Y2, Y2
	VBLENDVPS Y15, Y10, Y6, Y6
	VPMOVZXBD 24(DX), Y15
	VPSLLD    $31, Y15, Y15
	VBLENDVPS Y15, 96(SI), Y13, Y14
	VCMPPS    $1, Y3, Y14, Y15
	VBLENDVPS Y15, Y14, Y3, Y3
	VBLENDVPS Y15, Y11, Y7, Y7
	VPADDD    Y12, Y8, Y8
	VPADDD    Y12, Y9, Y9
	VPADDD    Y12, Y10, Y10
	VPADDD    Y12, Y11, Y11
	ADDQ      $128, SI
	ADDQ      $32, DX
	DECQ      CX
	JNZ       mloopallow

store:
	MOVQ    vals+24(FP), DI
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	MOVQ    idx+32(FP), DI
	VMOVDQU Y4, 0(DI)
	VMOVDQU Y5, 32(DI)
	VMOVDQU Y6, 64(DI)
	VMOVDQU Y7, 96(DI)
	VZEROUPPER
	RET
